defmodule {{ module }} do
  @moduledoc """
  The entry point of the worker: every request runs `start/0`, which hands
  the request to `{{ module }}.Router`.
  """
  use ElixirWorkers.App, router: {{ module }}.Router
end
