"""The LLM edge: litellm behind the `LlmProvider` port (`rara.llm.ports`), a reply cache for
offline replay (`cache`, `replay`), the cost budget (`budget`) and building a provider from
settings (`factory`). Nothing here imports a consumer of the port.

The package imports nothing on its own: research imports only `rara.llm.ports` for the port's
types, and pays for the adapters (diskcache, litellm, the latter lazily on the first call) only
when it builds a provider.
"""
