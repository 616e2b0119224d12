package limits

// lru is a map from key to value holding at most max entries: adding to a full one evicts the least
// recently used entry. The list is intrusive (each node is one allocation holding its key, its links and
// its value) and circular around root. It is not safe for concurrent use; its owner locks.
type lru[V any] struct {
	max   int
	nodes map[string]*node[V]
	root  node[V] // root.next is the most recently used node, root.prev the least
}

type node[V any] struct {
	key        string
	prev, next *node[V]
	val        V
}

func newLRU[V any](max int) *lru[V] {
	c := &lru[V]{max: max, nodes: make(map[string]*node[V])}
	c.root.prev, c.root.next = &c.root, &c.root
	return c
}

// get returns the key's value, marking it most recently used, or nil.
func (c *lru[V]) get(key string) *V {
	n, ok := c.nodes[key]
	if !ok {
		return nil
	}
	c.unlink(n)
	c.pushFront(n)
	return &n.val
}

// add inserts key with its zero value as the most recently used entry and returns the value to fill in,
// evicting the least recently used entry first when the map is full. The key must not be present.
func (c *lru[V]) add(key string) *V {
	var n *node[V]
	if len(c.nodes) >= c.max {
		// Reuse the evicted node: a full table under churn then allocates nothing but map growth.
		n = c.root.prev
		c.unlink(n)
		delete(c.nodes, n.key)
		*n = node[V]{key: key}
	} else {
		n = &node[V]{key: key}
	}
	c.nodes[key] = n
	c.pushFront(n)
	return &n.val
}

// remove drops key, if present.
func (c *lru[V]) remove(key string) {
	if n, ok := c.nodes[key]; ok {
		c.unlink(n)
		delete(c.nodes, key)
	}
}

func (c *lru[V]) len() int { return len(c.nodes) }

func (c *lru[V]) unlink(n *node[V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

func (c *lru[V]) pushFront(n *node[V]) {
	n.prev, n.next = &c.root, c.root.next
	c.root.next.prev = n
	c.root.next = n
}
