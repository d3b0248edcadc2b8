package dashboard

import (
	"cmp"
	"compress/gzip"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/drover-dev/drover/master"
)

// Defaults of Config.
const (
	// DefaultRefresh is how often a page of running work updates itself.
	DefaultRefresh = 2 * time.Second
	// DefaultTimeout bounds what one request asks of its Source.
	DefaultTimeout = 10 * time.Second
)

// maxJobIDLen bounds a job ID in a URL: a job's ID, or a quarantined
// record's key, with room to spare.
const maxJobIDLen = 320

//go:embed templates/*.html static/*
var files embed.FS

// Config configures a Handler. The zero value of every field but Source
// means its default.
type Config struct {
	// Source is what the pages show and where a cancel goes (required).
	Source Source
	// Logger hears the errors of the Source (default slog.Default).
	Logger *slog.Logger
	// Refresh is how often pages of running work update (default
	// DefaultRefresh): by script, or by a meta refresh without one.
	Refresh time.Duration
	// Timeout bounds each request's calls to Source (default
	// DefaultTimeout).
	Timeout time.Duration
	// Now is the clock, for the durations of running jobs (default
	// time.Now).
	Now func() time.Time
	// Secret keys the tokens of the cancel forms (default: 32 random
	// bytes, so that a restart invalidates the forms of open pages).
	Secret []byte
}

// Handler serves the dashboard's pages. It is safe for concurrent use.
type Handler struct {
	cfg   Config
	log   *slog.Logger
	pages map[string]*template.Template
	mux   http.Handler
}

// New makes the handler of cfg.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Source == nil:
		return nil, fmt.Errorf("%w: Source is nil", ErrInvalidConfig)
	case cfg.Refresh < 0:
		return nil, fmt.Errorf("%w: Refresh %v is negative", ErrInvalidConfig, cfg.Refresh)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: Timeout %v is negative", ErrInvalidConfig, cfg.Timeout)
	case cfg.Secret != nil && len(cfg.Secret) < 16:
		return nil, fmt.Errorf("%w: Secret has %d bytes: want 16 or more", ErrInvalidConfig, len(cfg.Secret))
	}
	cfg.Refresh = cmp.Or(cfg.Refresh, DefaultRefresh)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Secret == nil {
		cfg.Secret = make([]byte, 32)
		rand.Read(cfg.Secret)
	}
	h := &Handler{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default()), pages: map[string]*template.Template{}}
	for _, page := range []string{"jobs", "job", "tasks", "workers", "cluster", "error"} {
		t, err := template.New(page).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/tasktable.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: %w", err)
		}
		h.pages[page] = t
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.jobs)
	mux.HandleFunc("GET /jobs", h.jobs)
	mux.HandleFunc("GET /jobs/{id}", h.job)
	mux.HandleFunc("GET /jobs/{id}/tasks", h.tasks)
	mux.HandleFunc("POST /jobs/{id}/cancel", h.cancel)
	mux.HandleFunc("GET /workers", h.workers)
	mux.HandleFunc("GET /cluster", h.cluster)
	mux.HandleFunc("GET /static/{name}", serveStatic)
	// Cross-origin protection refuses a POST another site's page makes
	// the browser send (by Sec-Fetch-Site, or Origin against Host); the
	// form's token refuses one from a client that sends neither.
	h.mux = http.NewCrossOriginProtection().Handler(mux)
	return h, nil
}

// ServeHTTP serves a page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) context(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), h.cfg.Timeout)
}

// render writes page with data in answer to r, compressed if r accepts
// gzip, or an error page if it cannot.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Vary", "Accept-Encoding")
	out := io.Writer(w)
	if acceptsGzip(r.Header.Values("Accept-Encoding")) {
		hdr.Set("Content-Encoding", "gzip")
		gz := gzipWriters.Get().(*gzip.Writer)
		gz.Reset(w)
		defer func() {
			gz.Close()
			gzipWriters.Put(gz)
		}()
		out = gz
	}
	w.WriteHeader(status)
	if err := h.pages[page].ExecuteTemplate(out, "layout", data); err != nil {
		h.log.Warn("dashboard: render", "page", page, "error", err)
	}
}

// fail shows err as a page with status.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, title string, err error) {
	if status >= 500 {
		h.log.Warn("dashboard: "+title, "error", err)
	}
	h.render(w, r, status, "error", errorView{view: h.view(title, "", false), Error: err.Error()})
}

func (h *Handler) view(title, nav string, live bool) view {
	return view{Title: title, Nav: nav, Live: live, Refresh: int(h.cfg.Refresh / time.Millisecond),
		RefreshSeconds: max(int(h.cfg.Refresh/time.Second), 1)}
}

func (h *Handler) jobs(w http.ResponseWriter, r *http.Request) {
	after := r.URL.Query().Get("after")
	limit := master.MaxListLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > master.MaxListLimit {
			h.fail(w, r, http.StatusBadRequest, "Bad request", fmt.Errorf("limit %.20q: want 1 to %d", s, master.MaxListLimit))
			return
		}
		limit = n
	}
	if len(after) > maxJobIDLen {
		h.fail(w, r, http.StatusBadRequest, "Bad request", fmt.Errorf("after is %d bytes: want a job ID", len(after)))
		return
	}
	ctx, cancel := h.context(r)
	defer cancel()
	page, err := h.cfg.Source.Jobs(ctx, after, limit)
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, "Jobs", err)
		return
	}
	h.render(w, r, http.StatusOK, "jobs", jobsView(h.view("Jobs", "jobs", true), page, after, limit, h.cfg.Now()))
}

// jobData reads the job the request names, or writes why it cannot.
func (h *Handler) jobData(w http.ResponseWriter, r *http.Request) (JobData, bool) {
	id := r.PathValue("id")
	if len(id) > maxJobIDLen {
		h.fail(w, r, http.StatusBadRequest, "Bad request", fmt.Errorf("job ID of %d bytes: want at most %d", len(id), maxJobIDLen))
		return JobData{}, false
	}
	ctx, cancel := h.context(r)
	defer cancel()
	data, err := h.cfg.Source.Job(ctx, id)
	switch {
	case errors.Is(err, ErrNoJob):
		h.fail(w, r, http.StatusNotFound, "No such job", err)
		return data, false
	case err != nil:
		h.fail(w, r, http.StatusBadGateway, "Job "+id, err)
		return data, false
	}
	return data, true
}

func (h *Handler) job(w http.ResponseWriter, r *http.Request) {
	data, ok := h.jobData(w, r)
	if !ok {
		return
	}
	id := data.Status.ID
	v := jobView(h.view("Job "+id, "jobs", !data.Status.State.Ended()), data, h.cfg.Now())
	v.Token = token(h.cfg.Secret, id)
	v.Cancelled = r.URL.Query().Get("cancelled") != ""
	h.render(w, r, http.StatusOK, "job", v)
}

func (h *Handler) tasks(w http.ResponseWriter, r *http.Request) {
	from := 0
	if s := r.URL.Query().Get("from"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			h.fail(w, r, http.StatusBadRequest, "Bad request", fmt.Errorf("from %.20q: want a task's number, 0 or more", s))
			return
		}
		from = n
	}
	data, ok := h.jobData(w, r)
	if !ok {
		return
	}
	id := data.Status.ID
	h.render(w, r, http.StatusOK, "tasks", tasksView(h.view("Tasks of job "+id, "jobs", !data.Status.State.Ended()), data, from, h.cfg.Now()))
}

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if len(id) > maxJobIDLen || !validToken(h.cfg.Secret, id, r.PostFormValue("token")) {
		h.fail(w, r, http.StatusForbidden, "Forbidden", errors.New("the form's token does not match: open the job's page again and cancel from there"))
		return
	}
	ctx, cancel := h.context(r)
	defer cancel()
	if err := h.cfg.Source.Cancel(ctx, id); err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, ErrNoJob) {
			status = http.StatusNotFound
		}
		h.fail(w, r, status, "Cancel "+id, err)
		return
	}
	http.Redirect(w, r, "/jobs/"+pathEscape(id)+"?cancelled=1", http.StatusSeeOther)
}

func (h *Handler) workers(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.context(r)
	defer cancel()
	ws, skipped, err := h.cfg.Source.Workers(ctx)
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, "Workers", err)
		return
	}
	h.render(w, r, http.StatusOK, "workers", workersView(h.view("Workers", "workers", true), ws, skipped, h.cfg.Now()))
}

func (h *Handler) cluster(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.context(r)
	defer cancel()
	c, err := h.cfg.Source.Cluster(ctx)
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, "Cluster", err)
		return
	}
	h.render(w, r, http.StatusOK, "cluster", clusterView{view: h.view("Cluster", "cluster", true), Cluster: c})
}
