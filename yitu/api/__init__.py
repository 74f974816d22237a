"""The HTTP layer shared by all domains: app factory, problem responses, middleware, local docs."""
