package main

import (
	"strings"
)

// WordCountServer is the lecture's word-count service.
type WordCountServer struct{}

// WordCountRequest is the text to count.
type WordCountRequest struct {
	Input string
}

// WordCountReply maps each token of the input to its count.
type WordCountReply struct {
	Counts map[string]int
}

// Compute counts the whitespace-separated tokens of request.Input. It has
// net/rpc's shape; rpcq serves it as rpcq.WordCount.Compute.
func (*WordCountServer) Compute(request WordCountRequest, reply *WordCountReply) error {
	counts := make(map[string]int)
	for _, t := range strings.Fields(request.Input) {
		counts[t]++
	}
	reply.Counts = counts
	return nil
}
