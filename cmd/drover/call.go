package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/rpcq"
)

func runCall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("call", stderr, "Service.Method ['JSON'] [flags]")
	var conn cli.NATSFlags
	conn.Register(fs)
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the reply")
	modeName := fs.String("mode", "at-most-once", "retry as: at-most-once, at-least-once or read-only")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usagef("call takes Service.Method and at most one JSON argument")
	}
	mode, err := rpcq.ParseMode(*modeName)
	if err != nil {
		return usagef("--mode: %v", err)
	}
	if *timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	arg := json.RawMessage("null") // the zero value of any argument type
	if len(pos) == 2 {
		if !json.Valid([]byte(pos[1])) {
			return usagef("argument %q is not valid JSON", pos[1])
		}
		arg = json.RawMessage(pos[1])
	}

	nc, err := dial(ctx, &conn, "drover call")
	if err != nil {
		return err
	}
	defer nc.Close()
	client, err := rpcq.NewClient(nc, rpcq.ClientConfig{Codec: rpcq.JSON})
	if err != nil {
		return err
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var reply json.RawMessage
	if err := client.Call(ctx, pos[0], arg, &reply, rpcq.WithMode(mode)); err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, reply, "", "  "); err != nil {
		out.Reset()
		out.Write(reply)
	}
	fmt.Fprintln(stdout, out.String())
	return nil
}
