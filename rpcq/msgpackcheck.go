package rpcq

import (
	"encoding/binary"
	"fmt"
)

// maxMsgpackDepth bounds how deeply a msgpack body's arrays and maps may
// nest: far more than any argument type needs, and few enough that
// decoding it, which recurses once a level, stays small.
const maxMsgpackDepth = 100

// checkMsgpack walks the msgpack value at the start of data without
// decoding it, and refuses one whose headers claim more than data holds:
// an array or map with more elements than bytes left (each takes one at
// least), a string, binary or extension longer than what is left, or
// nesting deeper than maxMsgpackDepth. The msgpack module allocates a
// slice at the length its header claims (its limit on that allocation
// never takes effect in v5.4.1), so an 8-byte body could otherwise make
// a server allocate gigabytes and die; with this check, what a decode
// allocates is in proportion to the body. Bytes after the value are left
// alone, as the decoder leaves them.
func checkMsgpack(data []byte) error {
	var open []int // items left in each enclosing array or map
	left := 1      // items left at this level
	i := 0
	for {
		for left == 0 {
			if len(open) == 0 {
				return nil
			}
			left, open = open[len(open)-1], open[:len(open)-1]
		}
		if i >= len(data) {
			return fmt.Errorf("msgpack: body ends at byte %d inside a value", i)
		}
		left--
		c := data[i]
		i++
		items, size := 0, 0 // the elements of a container; the bytes of a string, binary or number
		ok := true          // the header's length was there to read
		switch {
		case c <= 0x7f || c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3: // fixint, nil, false, true
		case c <= 0x8f:
			items = 2 * int(c&0x0f)
		case c <= 0x9f:
			items = int(c & 0x0f)
		case c <= 0xbf:
			size = int(c & 0x1f)
		case c == 0xc4 || c == 0xd9: // bin8, str8
			size, i, ok = length(data, i, 1)
		case c == 0xc5 || c == 0xda: // bin16, str16
			size, i, ok = length(data, i, 2)
		case c == 0xc6 || c == 0xdb: // bin32, str32
			size, i, ok = length(data, i, 4)
		case c == 0xc7: // ext8: its type, then its data
			size, i, ok = length(data, i, 1)
			size++
		case c == 0xc8: // ext16
			size, i, ok = length(data, i, 2)
			size++
		case c == 0xc9: // ext32
			size, i, ok = length(data, i, 4)
			size++
		case c == 0xca || c == 0xce || c == 0xd2: // float32, uint32, int32
			size = 4
		case c == 0xcb || c == 0xcf || c == 0xd3: // float64, uint64, int64
			size = 8
		case c == 0xcc || c == 0xd0: // uint8, int8
			size = 1
		case c == 0xcd || c == 0xd1: // uint16, int16
			size = 2
		case c >= 0xd4 && c <= 0xd8: // fixext 1, 2, 4, 8, 16: a type and 2^k bytes
			size = 1 + 1<<(c-0xd4)
		case c == 0xdc: // array16
			items, i, ok = length(data, i, 2)
		case c == 0xdd: // array32
			items, i, ok = length(data, i, 4)
		case c == 0xde: // map16
			items, i, ok = length(data, i, 2)
			items *= 2
		case c == 0xdf: // map32
			items, i, ok = length(data, i, 4)
			items *= 2
		default: // 0xc1, which msgpack never uses
			return fmt.Errorf("msgpack: invalid code %#x at byte %d", c, i-1)
		}
		if !ok {
			return fmt.Errorf("msgpack: body ends at byte %d inside a header", len(data))
		}
		switch rest := len(data) - i; {
		case size > rest:
			return fmt.Errorf("msgpack: a value of %d bytes at byte %d, where %d are left", size, i, rest)
		case items > rest:
			return fmt.Errorf("msgpack: %d elements at byte %d, where %d bytes are left", items, i, rest)
		case items > 0:
			if len(open) == maxMsgpackDepth {
				return fmt.Errorf("msgpack: arrays and maps nested more than %d deep", maxMsgpackDepth)
			}
			open = append(open, left)
			left = items
		}
		i += size
	}
}

// length reads the n-byte big-endian length at data[i:], and returns it
// with the index after it; ok is false if data ends first.
func length(data []byte, i, n int) (l, next int, ok bool) {
	if len(data)-i < n {
		return 0, i, false
	}
	switch n {
	case 1:
		return int(data[i]), i + 1, true
	case 2:
		return int(binary.BigEndian.Uint16(data[i:])), i + 2, true
	}
	return int(binary.BigEndian.Uint32(data[i:])), i + 4, true
}
