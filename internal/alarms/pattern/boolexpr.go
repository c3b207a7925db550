package pattern

// condition is a test over an input of type T: a JSON document for JSON
// property patterns, the named fields of a line for space-delimited ones.
type condition[T any] interface {
	eval(x T) bool
}

// allOf holds when every condition does (&&); anyOf when one does (||).
type allOf[T any] []condition[T]
type anyOf[T any] []condition[T]

func (n allOf[T]) eval(x T) bool {
	for _, c := range n {
		if !c.eval(x) {
			return false
		}
	}
	return true
}

func (n anyOf[T]) eval(x T) bool {
	for _, c := range n {
		if c.eval(x) {
			return true
		}
	}
	return false
}

// parseOr parses operand (&& operand)* (|| ...)*: && binds tighter than ||,
// as in CloudWatch. A single operand is returned as it is.
func parseOr[T any](p *jsonParser, operand func() (condition[T], error)) (condition[T], error) {
	var kids anyOf[T]
	for {
		n, err := parseAnd(p, operand)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
		if !p.peek("||") {
			break
		}
		p.i += 2
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return kids, nil
}

func parseAnd[T any](p *jsonParser, operand func() (condition[T], error)) (condition[T], error) {
	var kids allOf[T]
	for {
		n, err := operand()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
		if !p.peek("&&") {
			break
		}
		p.i += 2
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return kids, nil
}
