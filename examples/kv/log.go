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

// File names in the data directory.
const (
	logName = "kv.log"
	// tmpName is a compacted log being written; it replaces the log by a
	// rename once whole and fsynced, and a crash before that leaves it to
	// be deleted on the next open.
	tmpName = "kv.log.tmp"
)

// maxRecord bounds a record's size, so that a corrupt length cannot make
// replay allocate without limit. A request, and so a record made of one,
// is at most NATS's max payload, which is at most 64 MiB; a compacted
// log writes values in chunks of maxChunk.
const maxRecord = 64<<20 + 4096

// Record kinds. A log begins with opSince; a compacted one goes on with
// the data (opPut, then opAppend for the rest of a long value, none with
// a call) and the duplicate table (opClient, opSaved); then come the calls
// since, each an opPut or opAppend with its completion record.
const (
	opSince  = ""
	opPut    = "put"
	opAppend = "append"
	opClient = "client" // a client the table remembers, alone
	opSaved  = "saved"  // a finished call's saved reply
)

// record is one entry of the log.
type record struct {
	Op    string `json:"op,omitempty"`
	Since int64  `json:"since,omitempty"` // opSince: Unix nanoseconds the table began
	Key   string `json:"k,omitempty"`
	Value string `json:"v,omitempty"`
	// A call's completion record: its identity, its client's watermark,
	// when it was written and its codec. The reply is not kept: it is
	// rebuilt from the data (Put's is empty, Append's is the old value).
	Client string `json:"c,omitempty"`
	Seq    uint64 `json:"s,omitempty"`
	Ack    uint64 `json:"a,omitempty"`
	At     int64  `json:"t,omitempty"`
	JSON   bool   `json:"j,omitempty"`
	// opSaved: the saved reply. With Ref, it is an Append's old value,
	// the first N bytes of Key's value; otherwise it is Code, Msg and Body
	// as rpcq.Reply has them.
	Ref  bool   `json:"ref,omitempty"`
	N    int    `json:"n,omitempty"`
	Code int    `json:"code,omitempty"`
	Msg  string `json:"m,omitempty"`
	Body []byte `json:"b,omitempty"`
}

// call is the record's completion record, if it has one.
func (r *record) call() (rpcq.RequestID, bool) {
	return rpcq.RequestID{Client: r.Client, Seq: r.Seq}, r.Client != ""
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// appendLog is an append-only file of records, each framed as a 4-byte
// length, a 4-byte CRC-32C of the payload, and the msgpack payload.
type appendLog struct {
	dir     string
	f       *os.File
	size    int64 // the end of the last whole record
	base    int64 // the size after the last compaction, or at open
	written int64 // bytes written since open, compactions included
	broken  error // set when a failed write could not be undone
}

// openLog opens dir's log, creating it with a first record that says when
// it began, and calls replay with every whole record in order. A torn or
// corrupt tail, what a crash in the middle of a write leaves, is cut off,
// and so is a compaction a crash left unfinished.
func openLog(dir string, now int64, replay func(*record) error) (*appendLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Remove(filepath.Join(dir, tmpName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, logName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	l := &appendLog{dir: dir, f: f}
	good, err := replayFrom(f, replay)
	if err != nil {
		f.Close()
		return nil, err
	}
	l.size, l.base = good, good
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("cut the log's torn tail: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	if good == 0 { // a new log: say when it began, and make the file's name durable too
		first := &record{Op: opSince, Since: now}
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

// replayFrom reads records from r and returns the offset after the last
// whole one.
func replayFrom(r io.Reader, fn func(*record) error) (int64, error) {
	br := bufio.NewReader(r)
	var good int64
	var head [8]byte
	for {
		if _, err := io.ReadFull(br, head[:]); err != nil {
			return good, nil // the end, or a torn header
		}
		n, sum := binary.BigEndian.Uint32(head[:4]), binary.BigEndian.Uint32(head[4:])
		if n > maxRecord {
			return good, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil || crc32.Checksum(payload, crcTable) != sum {
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

// frame encodes rec as the log stores it.
func frame(rec *record) ([]byte, error) {
	payload, err := rpcq.Msgpack.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if len(payload) > maxRecord {
		return nil, fmt.Errorf("record of %d bytes exceeds the log's limit of %d", len(payload), maxRecord)
	}
	buf := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint32(buf[:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(buf[4:8], crc32.Checksum(payload, crcTable))
	copy(buf[8:], payload)
	return buf, nil
}

// append writes rec and fsyncs it: when append returns nil, rec survives
// a crash.
func (l *appendLog) append(rec *record) error {
	buf, err := frame(rec)
	if err != nil {
		return err
	}
	if l.broken != nil {
		return l.broken
	}
	_, err = l.f.Write(buf)
	if err == nil {
		err = l.f.Sync()
	}
	l.written += int64(len(buf))
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

// replace makes the records write gives it the whole log, atomically: it
// writes them to a new file, fsyncs it and renames it over the log. A
// crash at any point leaves either the old log or the new one, each whole.
// On failure the old log stays in use.
func (l *appendLog) replace(write func(put func(*record) error) error) error {
	if l.broken != nil {
		return l.broken
	}
	tmp := filepath.Join(l.dir, tmpName)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	var size int64
	w := bufio.NewWriterSize(f, 1<<20)
	err = write(func(rec *record) error {
		buf, err := frame(rec)
		if err == nil {
			_, err = w.Write(buf)
			size += int64(len(buf))
		}
		compactHook("writing")
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	compactHook("written")
	if err == nil {
		err = f.Sync()
	}
	compactHook("synced")
	if err == nil {
		err = os.Rename(tmp, filepath.Join(l.dir, logName))
	}
	compactHook("renamed")
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	l.written += size
	old := l.f
	l.f, l.size, l.base = f, size, size
	old.Close()
	// Until the directory is synced a crash may bring back the old log,
	// which is whole too; the new one must be durable before it takes
	// records the old one lacks.
	if err := syncDir(l.dir); err != nil {
		l.broken = fmt.Errorf("log is unusable after its compaction was not made durable: %w", err)
		return l.broken
	}
	return nil
}

// compactHook is called at each stage of a compaction; tests stop the
// process there.
var compactHook = func(stage string) {}

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
