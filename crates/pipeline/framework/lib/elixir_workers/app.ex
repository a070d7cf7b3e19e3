defmodule ElixirWorkers.App do
  @moduledoc """
  The entry point of a worker.

      defmodule MyApp do
        use ElixirWorkers.App,
          router: MyApp.Router,
          scheduled: MyApp.Cron,        # optional: cron triggers
          queue: MyApp.Consumer,        # optional: queue batches
          durable_objects: %{"Counter" => MyApp.Counter}  # optional
      end

  defines `start/0` (what AtomVM runs for each request), `handle/1` (the
  request bytes in, the response iodata out; no I/O, used by tests) and the
  marker `__elixir_workers_app__/0` by which the build finds the startup
  module.

  `router:` serves HTTP requests. `scheduled:` names what runs when a cron
  trigger of `wrangler.jsonc` (`triggers.crons`) fires: a module, whose
  `scheduled/1` is called, or a function capture (`&MyApp.Cron.tick/1`). It
  gets a conn whose `event` is `%{"type" => "scheduled", "cron" => "*/5 * *
  * *", "scheduled_time" => milliseconds}` and returns the conn; it may read
  bindings and queue writes as a route does (the writes run before the
  trigger counts as done; a crash marks the run failed). `queue:` names the
  consumer of queue batches the same way (a module's `queue/1`, or a
  capture): see `ElixirWorkers.Queue`. `durable_objects:` maps the class
  names of Durable Objects this worker defines (`class_name` in
  `wrangler.jsonc`) to the module whose `fetch/1` serves a request sent to
  one (or a capture): see `ElixirWorkers.DurableObject`.

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
    scheduled = entry(Keyword.get(opts, :scheduled), :scheduled, __CALLER__)
    queue = entry(Keyword.get(opts, :queue), :queue, __CALLER__)
    objects = objects(Keyword.get(opts, :durable_objects), __CALLER__)
    app = quote do: {unquote(router), unquote(scheduled), unquote(queue), unquote(objects)}

    quote do
      @doc false
      def __elixir_workers_app__, do: unquote(router)

      @doc "Serves the request on stdin (run by the worker for every request)."
      def start, do: ElixirWorkers.Handler.start(unquote(app))

      @doc "The response bytes (iodata) for the request bytes `input`."
      def handle(input), do: ElixirWorkers.Handler.handle(unquote(app), input)
    end
  end

  # `%{"Counter" => MyApp.Counter}`: a map of class name to the function
  # serving its requests, as a list of pairs the handler looks through.
  defp objects(nil, _caller), do: []

  defp objects({:%{}, _, pairs}, caller) do
    for {name, target} <- pairs do
      unless is_binary(name) do
        raise CompileError,
          file: caller.file,
          line: caller.line,
          description: "durable_objects: class names are strings, got: " <> Macro.to_string(name)
      end

      {name, entry(target, :fetch, caller)}
    end
  end

  defp objects(other, caller) do
    raise CompileError,
      file: caller.file,
      line: caller.line,
      description:
        ~s(durable_objects: takes a map of class name to module, such as %{"Counter" => MyApp.Counter}, got: ) <>
          Macro.to_string(other)
  end

  # A module stands for its function named after the event; a capture is
  # taken as it is.
  defp entry(nil, _name, _caller), do: nil

  defp entry({:__aliases__, _, _} = alias, name, caller) do
    module = Macro.expand(alias, caller)
    quote do: &(unquote(module).unquote(name) / 1)
  end

  defp entry({:&, _, _} = capture, _name, _caller), do: capture

  defp entry(other, name, caller) do
    raise CompileError,
      file: caller.file,
      line: caller.line,
      description:
        "#{name}: takes a module (whose #{name}/1 is called) or a capture such as &MyApp.Jobs.run/1, got: " <>
          Macro.to_string(other)
  end
end
