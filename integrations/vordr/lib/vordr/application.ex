defmodule Vordr.Application do
  @moduledoc """
  The supervision tree: one `Vordr.ContainerManager` registered as
  `Vordr.ContainerManager`, over the in-memory backend by default. It is
  the default manager that `Vordr.ContainerManager`'s functions without a
  server argument (`create/1`, `start/1`, `list/0`, ...) call.

  Configure with `config :vordr, manager: [wasm_path: ..., backend: :runc,
  images: ...]`, or `manager: false` to start nothing.
  """
  use Application

  @impl true
  def start(_type, _args) do
    children =
      case Application.get_env(:vordr, :manager, []) do
        false -> []
        opts -> [{Vordr.ContainerManager, Keyword.put_new(opts, :name, Vordr.ContainerManager)}]
      end

    Supervisor.start_link(children, strategy: :one_for_one, name: Vordr.Supervisor)
  end
end
