package mr

import "strconv"

// pending is a key's running total, the totals that could not be added
// to it without overflow, and its partition.
type pending struct {
	part   int
	values []string
	total  int64
}

// add adds n to the total.
func (p *pending) add(n int64) {
	if sum := p.total + n; (n > 0 && sum < p.total) || (n < 0 && sum > p.total) {
		// Past int64: the total so far goes out as a value of its own,
		// and the reduce, which sums exactly, judges the whole.
		p.values = append(p.values, strconv.FormatInt(p.total, 10))
		p.total = n
	} else {
		p.total = sum
	}
}

// write writes key's totals to w.
func (p *pending) write(w *pairWriter, key []byte) {
	for _, v := range p.values { // totals that would have overflowed
		w.write(key, []byte(v))
	}
	w.write(key, strconv.AppendInt(nil, p.total, 10))
}
