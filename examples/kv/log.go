package kv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/drover-dev/drover/rpcq"
)

// logName is the log's file name in the data directory.
const logName = "kv.log"

// maxRecord bounds a record's size, so that a corrupt length cannot make
// replay allocate without limit.
const maxRecord = 64 << 20

// record is one entry of the log: the first holds only Since; every other
// is a Put or Append and, for a call through the duplicate table, its
// completion record.
type record struct {
	Since  int64  `json:"since,omitempty"` // Unix nanoseconds the log began
	Op     string `json:"op,omitempty"`    // "put" or "append"
	Key    string `json:"k,omitempty"`
	Value  string `json:"v,omitempty"`
	Client string `json:"c,omitempty"`
	Seq    uint64 `json:"s,omitempty"`
	Ack    uint64 `json:"a,omitempty"`
	At     int64  `json:"t,omitempty"` // Unix nanoseconds it was written
	Reply  []byte `json:"r,omitempty"`
	JSON   bool   `json:"j,omitempty"`
}

// call is the record's completion record, if it has one.
func (r *record) call() (rpcq.RequestID, bool) {
	return rpcq.RequestID{Client: r.Client, Seq: r.Seq}, r.Client != ""
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// appendLog is an append-only file of records, each framed as a 4-byte
// length, a 4-byte CRC-32C of the payload, and the msgpack payload.
type appendLog struct {
	f      *os.File
	size   int64 // the end of the last whole record
	broken error // set when a failed write could not be undone
}

// openLog opens dir's log, creating it with a first record that says when
// it began, and calls replay with every whole record in order. A torn or
// corrupt tail, what a crash in the middle of a write leaves, is cut off.
func openLog(dir string, now int64, replay func(*record) error) (*appendLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, logName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	l := &appendLog{f: f}
	good, err := l.replay(replay)
	l.size = good
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("cut the log's torn tail: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	if good == 0 { // a new log: say when it began, and make the file's name durable too
		first := &record{Since: now}
		if err := l.append(first); err != nil {
			f.Close()
			return nil, err
		}
		if err := replay(first); err != nil {
			f.Close()
			return nil, err
		}
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	return l, nil
}

// replay reads records from the start and returns the offset after the
// last whole one.
func (l *appendLog) replay(fn func(*record) error) (int64, error) {
	r := bufio.NewReader(l.f)
	var good int64
	var head [8]byte
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return good, nil // the end, or a torn header
		}
		n, sum := binary.BigEndian.Uint32(head[:4]), binary.BigEndian.Uint32(head[4:])
		if n > maxRecord {
			return good, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil || crc32.Checksum(payload, crcTable) != sum {
			return good, nil // torn or corrupt: what follows cannot be trusted
		}
		var rec record
		if err := rpcq.Msgpack.Unmarshal(payload, &rec); err != nil {
			return good, nil
		}
		if err := fn(&rec); err != nil {
			return 0, err
		}
		good += int64(len(head) + len(payload))
	}
}

// append writes rec and fsyncs it: when append returns nil, rec survives
// a crash.
func (l *appendLog) append(rec *record) error {
	payload, err := rpcq.Msgpack.Marshal(rec)
	if err != nil {
		return err
	}
	buf := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint32(buf[:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(buf[4:8], crc32.Checksum(payload, crcTable))
	copy(buf[8:], payload)
	if l.broken != nil {
		return l.broken
	}
	_, err = l.f.Write(buf)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		// Leave no partial record for the next one to follow.
		if terr := l.f.Truncate(l.size); terr != nil {
			l.broken = fmt.Errorf("log is unusable after a failed write: %w", terr)
		} else if _, serr := l.f.Seek(l.size, io.SeekStart); serr != nil {
			l.broken = fmt.Errorf("log is unusable after a failed write: %w", serr)
		}
		return fmt.Errorf("write log: %w", err)
	}
	l.size += int64(len(buf))
	return nil
}

func (l *appendLog) close() error { return l.f.Close() }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
