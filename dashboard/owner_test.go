package dashboard_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/drover-dev/drover/dashboard/dashboardtest"
)

// TestJobsShowWhoSubmitted: the jobs list and a job's page name the user
// who submitted the job, and "anonymous" where its call named none.
func TestJobsShowWhoSubmitted(t *testing.T) {
	src := &dashboardtest.Source{}
	named := hostileJob()
	named.Status.ID, named.Status.Owner = "named", "alice"
	unnamed := hostileJob()
	unnamed.Status.ID = "unnamed"
	src.Add(named)
	src.Add(unnamed)
	h := newHandler(t, src)
	_, list := get(t, h, "/jobs")
	for _, want := range []string{`<td class="muted">alice</td>`, `<td class="muted">anonymous</td>`} {
		if !strings.Contains(list, want) {
			t.Errorf("the jobs list lacks %s", want)
		}
	}
	for id, want := range map[string]string{"named": "alice", "unnamed": "anonymous"} {
		if _, page := get(t, h, "/jobs/"+url.PathEscape(id)); !strings.Contains(page, `<dt>Submitted by</dt><dd class="muted">`+want+`</dd>`) {
			t.Errorf("the page of job %s does not say it was submitted by %s", id, want)
		}
	}
}
