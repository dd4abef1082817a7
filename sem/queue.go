package sem

// waitList is an intrusive FIFO of waiters: Linux's struct list_head of
// struct sem_queue. Appending and unlinking are O(1) and allocation-free.
//
// A waitList is protected by the mutex of the Set that owns it.
type waitList struct {
	head, tail *Waiter
}

func (l *waitList) empty() bool { return l.head == nil }

// pushBack appends w. Precondition: w is on no list.
func (l *waitList) pushBack(w *Waiter) {
	w.list = l
	w.prev = l.tail
	w.next = nil
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
}

// remove unlinks w. Precondition: w is on l.
func (l *waitList) remove(w *Waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next, w.list = nil, nil, nil
}

// spliceBack moves every waiter of src, in order, to the end of l.
func (l *waitList) spliceBack(src *waitList) {
	for w := src.head; w != nil; {
		next := w.next
		w.list = l
		w = next
	}
	if src.head == nil {
		return
	}
	if l.tail == nil {
		l.head = src.head
	} else {
		l.tail.next = src.head
		src.head.prev = l.tail
	}
	l.tail = src.tail
	src.head, src.tail = nil, nil
}

// semQueues are the per-semaphore queues of single-operation waiters
// (Linux's sem.pending_alter and sem.pending_const).
type semQueues struct {
	alter waitList // single-sop waiters that change the value (decrements)
	zero  waitList // single-sop waiters for zero
}
