package apps

import (
	"bufio"
	"io"
	"math/rand/v2"
	"strconv"
)

// RecordSize is the bytes of one record GenerateRecords writes.
const RecordSize = 100

// keyAlphabet are the bytes of a record's key: printable ASCII but space.
const keyAlphabet = "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

// GenerateRecords writes size/RecordSize records of random keys from
// seed to w, as Hadoop's teragen does, for the sort app: lines of 100
// bytes, a 10-byte key, two spaces, the record's number in 32 hex digits,
// two spaces, 53 bytes of filler and "\n". The same seed gives the same
// bytes. It returns the records written.
func GenerateRecords(w io.Writer, size int64, seed uint64) (int64, error) {
	rng := rand.New(rand.NewPCG(seed, 0x7465726167656e)) // "teragen"
	bw := bufio.NewWriterSize(w, 256<<10)
	n := size / RecordSize
	var line [RecordSize]byte
	var num [32]byte
	for row := range n {
		for i := range 10 {
			line[i] = keyAlphabet[rng.IntN(len(keyAlphabet))]
		}
		line[10], line[11] = ' ', ' '
		hex := strconv.AppendUint(num[:0], uint64(row), 16)
		for i := 12; i < 44-len(hex); i++ {
			line[i] = '0'
		}
		copy(line[44-len(hex):44], hex)
		line[44], line[45] = ' ', ' '
		for i := 46; i < RecordSize-1; i++ {
			line[i] = 'A' + byte((uint64(row)+uint64(i))%26)
		}
		line[RecordSize-1] = '\n'
		if _, err := bw.Write(line[:]); err != nil {
			return row, err
		}
	}
	return n, bw.Flush()
}
