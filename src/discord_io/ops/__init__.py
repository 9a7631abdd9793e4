"""Discord operations beyond the core port, one module per area, over ``DiscordPort.rest``.

Each function takes the agent's :class:`~actors.discord_port.DiscordPort` first and returns
attrs values (the area's own, or the port's ``ChannelInfo``/``MemberInfo``/``MessageInfo``):
the MCP tools call them through ``AgentHandle.call(lambda port: area.fn(port, ...))``, so the
agent's readiness check, rate limiting, error translation and egress accounting apply to
every one. Discord's JSON stays here: nothing above ``discord_io`` sees a route or a payload.
"""
