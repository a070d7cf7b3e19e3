defmodule Acme.Shop do
  @moduledoc """
  The entry point of the worker: every request runs `start/0`, which hands
  the request to `Acme.Shop.Router`.
  """
  use ElixirWorkers.App, router: Acme.Shop.Router
end
