defmodule MyApp do
  @moduledoc """
  The entry point of the worker: every request runs `start/0`, which hands
  the request to `MyApp.Router`.
  """
  use ElixirWorkers.App, router: MyApp.Router
end
