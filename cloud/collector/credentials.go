package collector

// BrokerCredentials are the username and password the collector itself
// uses on its broker: the configured ones with an external broker, or the
// ones made for this run with the embedded broker, whose ACL admits only
// the collector and enrolled docks. In-process tools and tests use them to
// subscribe to berth/v1/alerts/... on the embedded broker. Treat the
// password as a secret: it may publish and subscribe everywhere.
func (c *Collector) BrokerCredentials() (user, password string) { return c.user, c.pass }
