# Loaded before the tests by `elixir-workers test`.
ExUnit.start()
