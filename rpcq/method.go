package rpcq

import (
	"context"
	"reflect"
	"sync"
)

// method is one callable endpoint: it decodes the arguments with the
// request's codec, runs, and encodes the reply with the same codec.
type method struct {
	name   string
	invoke func(ctx context.Context, codec Codec, body []byte) ([]byte, error)
	once   bool // runs through the duplicate table (set by Start)
	mode   Mode // set by Start
}

var (
	typeOfError   = reflect.TypeFor[error]()
	typeOfContext = reflect.TypeFor[context.Context]()
)

// methodsOf returns the methods of rcvr that have one of the shapes
//
//	func (t *T) Name(ctx context.Context, args A, reply *R) error
//	func (t *T) Name(args A, reply *R) error
//
// and the names of exported methods it skipped for their shape.
func methodsOf(rcvr any) (methods []*method, skipped []string) {
	v := reflect.ValueOf(rcvr)
	t := v.Type()
	for i := range t.NumMethod() {
		m := t.Method(i)
		if !m.IsExported() {
			continue
		}
		if h := reflectMethod(v.Method(i)); h != nil {
			methods = append(methods, &method{name: m.Name, invoke: h})
		} else {
			skipped = append(skipped, m.Name)
		}
	}
	return methods, skipped
}

// reflectMethod adapts a bound method of a supported shape, or returns nil.
func reflectMethod(fn reflect.Value) func(context.Context, Codec, []byte) ([]byte, error) {
	ft := fn.Type()
	withCtx := ft.NumIn() == 3 && ft.In(0) == typeOfContext
	if !(withCtx || ft.NumIn() == 2) || ft.NumOut() != 1 || ft.Out(0) != typeOfError {
		return nil
	}
	first := 0
	if withCtx {
		first = 1
	}
	argType, replyType := ft.In(first), ft.In(first+1)
	if replyType.Kind() != reflect.Pointer {
		return nil
	}
	return func(ctx context.Context, codec Codec, body []byte) ([]byte, error) {
		args := reflect.New(argType) // *A, or **A for pointer arguments
		if argType.Kind() == reflect.Pointer {
			args.Elem().Set(reflect.New(argType.Elem()))
		}
		if err := decodeArgs(codec, body, args.Interface()); err != nil {
			return nil, err
		}
		reply := reflect.New(replyType.Elem())
		in := []reflect.Value{args.Elem(), reply}
		if withCtx {
			in = append([]reflect.Value{reflect.ValueOf(ctx)}, in...)
		}
		if err, _ := fn.Call(in)[0].Interface().(error); err != nil {
			return nil, err
		}
		return codec.Marshal(reply.Interface())
	}
}

// funcMethod adapts a typed handler function.
//
// A codec decodes into a pointer, so the arguments need a cell on the
// heap; the handler gets a copy of them, never the cell. Where no code
// but the codec's own can be handed a pointer into the cell (see
// cellPoolable), the cell is cleared and put back once decoded, and a
// call does not allocate one. The reply likewise: passing it to the codec
// as an interface would copy it to the heap, so it is copied into a
// pooled cell and encoded through a pointer to it, which encodes as the
// value does where the type has no methods with a pointer receiver.
func funcMethod[A, R any](fn func(context.Context, A) (R, error)) func(context.Context, Codec, []byte) ([]byte, error) {
	var cells, replies *sync.Pool
	if cellPoolable(reflect.TypeFor[A]()) {
		cells = &sync.Pool{New: func() any { return new(A) }}
	}
	if rt := reflect.TypeFor[R](); rt.Kind() != reflect.Interface && cellPoolable(rt) {
		replies = &sync.Pool{New: func() any { return new(R) }}
	}
	return func(ctx context.Context, codec Codec, body []byte) ([]byte, error) {
		var cell *A
		if cells != nil {
			cell = cells.Get().(*A)
		} else {
			cell = new(A)
		}
		err := decodeArgs(codec, body, cell)
		args := *cell
		if cells != nil {
			*cell = *new(A)
			cells.Put(cell)
		}
		if err != nil {
			return nil, err
		}
		reply, err := fn(ctx, args)
		if err != nil {
			return nil, err
		}
		if replies == nil {
			return codec.Marshal(reply)
		}
		rcell := replies.Get().(*R)
		*rcell = reply
		out, err := codec.Marshal(rcell)
		*rcell = *new(R)
		replies.Put(rcell)
		return out, err
	}
}

// decodeArgs decodes body into args; an empty body leaves the zero value,
// so that methods without arguments can be called with nothing.
func decodeArgs(codec Codec, body []byte, args any) error {
	if len(body) == 0 {
		return nil
	}
	if err := codec.Unmarshal(body, args); err != nil {
		if codec == JSON {
			return Errorf(CodeBadRequest, "decode JSON arguments: %v", err)
		}
		return Errorf(CodeBadRequest, "decode msgpack arguments: %v; the body must be JSON text, or msgpack (Content-Type: %s or %s says which)", err, ContentTypeJSON, ContentTypeMsgpack)
	}
	return nil
}

// cellPoolable reports whether a cell of type t may be reused once a
// codec has decoded into it: the codecs keep no pointer to what they
// decode into, and the only user code they hand a pointer into the cell
// is a method with a pointer receiver (an UnmarshalJSON, say) of t or of
// a type stored inline in it, which could keep it. What sits behind a
// pointer, slice, map or interface in the cell the codec allocates anew.
func cellPoolable(t reflect.Type) bool {
	if reflect.PointerTo(t).NumMethod() > t.NumMethod() {
		return false // has methods with a pointer receiver
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			if !cellPoolable(t.Field(i).Type) {
				return false
			}
		}
	case reflect.Array:
		return cellPoolable(t.Elem())
	}
	return true
}
