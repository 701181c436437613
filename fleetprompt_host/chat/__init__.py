"""The chat loop: natural language in, typed and audited tool calls out.

litellm is imported only by :mod:`fleetprompt_host.chat.model`, lazily, when a turn calls
a model; importing this package (or any other command) does not pay for it.
"""
