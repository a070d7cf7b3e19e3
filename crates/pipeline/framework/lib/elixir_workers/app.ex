defmodule ElixirWorkers.App do
  @moduledoc """
  The entry point of a worker.

      defmodule MyApp do
        use ElixirWorkers.App, router: MyApp.Router
      end

  defines `start/0` (what AtomVM runs for each request), `handle/1` (the
  request bytes in, the response iodata out; no I/O, used by tests) and the
  marker `__elixir_workers_app__/0` by which the build finds the startup
  module.

  The wire format is in `crates/pipeline/worker/PROTOCOL.md`: one line of JSON (the
  request head), a newline, then the raw body bytes; the response is shaped
  the same way.

  This module only generates code: the generated functions call
  `ElixirWorkers.Handler`, and nothing that runs in the worker names this
  module, so the build leaves it (and `Keyword`, which `__using__/1` uses at
  compile time) out of `app.avm`.
  """

  defmacro __using__(opts) do
    router = Keyword.fetch!(opts, :router)

    quote do
      @doc false
      def __elixir_workers_app__, do: unquote(router)

      @doc "Serves the request on stdin (run by the worker for every request)."
      def start, do: ElixirWorkers.Handler.start(unquote(router))

      @doc "The response bytes (iodata) for the request bytes `input`."
      def handle(input), do: ElixirWorkers.Handler.handle(unquote(router), input)
    end
  end
end
