"""The aiohttp application: HTTP routes, middleware and the browser client."""
