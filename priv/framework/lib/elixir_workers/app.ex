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

  The wire format is in `templates/worker/PROTOCOL.md`: one line of JSON (the
  request head), a newline, then the raw body bytes; the response is shaped
  the same way.

  On AtomVM, `start/0` runs the request in a process spawned with the
  `fibonacci` heap-growth strategy: AtomVM's default strategy collects garbage
  every few allocations, which makes building large terms quadratic.
  """

  alias ElixirWorkers.{Bindings, Conn, JSON, Runtime}

  defmacro __using__(opts) do
    router = Keyword.fetch!(opts, :router)

    quote do
      @doc false
      def __elixir_workers_app__, do: unquote(router)

      @doc "Serves the request on stdin (run by the worker for every request)."
      def start, do: ElixirWorkers.App.start(unquote(router))

      @doc "The response bytes (iodata) for the request bytes `input`."
      def handle(input), do: ElixirWorkers.App.handle(unquote(router), input)
    end
  end

  @doc false
  def start(router) do
    input = Runtime.read_request()

    case Runtime.vm() do
      :beam ->
        Runtime.respond(handle(router, input))

      :atomvm ->
        pid =
          :erlang.spawn_opt(
            fn -> Runtime.respond(handle(router, input)) end,
            [{:atomvm_heap_growth, :fibonacci}]
          )

        ref = :erlang.monitor(:process, pid)

        receive do
          {:DOWN, ^ref, :process, ^pid, :normal} ->
            :ok

          {:DOWN, ^ref, :process, ^pid, reason} ->
            # handle/2 catches everything a route can raise, so this is a
            # framework or VM failure (e.g. out of memory): still answer.
            Runtime.log_error(["elixir-workers: request process died: ", inspect(reason), "\n"])
            Runtime.respond(error_response(500, "internal_error", "", nil))
        end
    end

    :ok
  end

  @doc """
  Handles one request: `input` is the request head line, a newline and the
  raw body. Returns the response as iodata. Never raises.
  """
  def handle(router, input) when is_binary(input) do
    case split_input(input) do
      {:ok, head, body} ->
        case JSON.decode(head) do
          {:ok, %{} = head} -> run(router, Conn.from_request(head, body))
          {:ok, _} -> error_response(400, "bad_request", "", "request head is not a JSON object")
          {:error, message} -> error_response(400, "bad_request", "", "request head: " <> message)
        end

      :error ->
        error_response(400, "bad_request", "", "request has no head line")
    end
  end

  defp split_input(input) do
    case :binary.match(input, "\n") do
      {pos, 1} ->
        <<head::binary-size(pos), ?\n, body::binary>> = input
        {:ok, head, body}

      :nomatch ->
        if input == "", do: :error, else: {:ok, input, ""}
    end
  end

  defp run(router, %Conn{} = conn) do
    Bindings.reset()

    outcome =
      try do
        {:ok, router.call(conn)}
      catch
        :throw, {:elixir_workers_bad_request, code, message} -> {:bad_request, code, message}
        kind, reason -> {:crash, kind, reason, __STACKTRACE__}
      end

    case Bindings.take_needs() do
      [] -> finish(outcome, conn)
      needs -> needs_response(needs)
    end
  end

  defp finish({:ok, %Conn{} = conn}, _req), do: response(conn)

  defp finish({:ok, other}, req) do
    finish({:crash, :error, RuntimeError.exception("router returned " <> inspect(other)), []}, req)
  end

  defp finish({:bad_request, code, message}, req) do
    error_response(400, code, req.request_id, message)
  end

  defp finish({:crash, kind, reason, stack}, req) do
    Runtime.log_error([
      "[",
      req.request_id,
      "] ",
      req.method,
      " ",
      req.path,
      " crashed\n",
      format_crash(kind, reason, stack)
    ])

    error_response(500, "internal_error", req.request_id, nil)
  end

  # --- wire format -----------------------------------------------------------

  # The head is written as bytes rather than encoded from a map with
  # literal keys: AtomVM pays a garbage collection per literal it loads.
  defp response(%Conn{status: status, resp_headers: headers, resp_body: body, effects: effects}) do
    tail =
      case effects do
        [] ->
          [?}, ?\n | body]

        _ ->
          effects_json = JSON.encode_onto(:lists.reverse(effects), [?}, ?\n | body])
          [?,, ?", ?_, ?e, ?f, ?f, ?e, ?c, ?t, ?s, ?", ?: | effects_json]
      end

    status = :erlang.integer_to_binary(status || 200)
    headers_json = JSON.encode_onto(headers, tail)

    [?{, ?", ?s, ?t, ?a, ?t, ?u, ?s, ?", ?:, status, ?,, ?", ?h, ?e, ?a, ?d, ?e, ?r, ?s, ?", ?: | headers_json]
  end

  defp needs_response(needs) do
    [JSON.encode_to_iodata(%{"_needs" => needs}), ?\n]
  end

  @doc false
  def error_response(status, code, request_id, message) do
    body = %{"error" => code}
    body = if request_id == "", do: body, else: :maps.put("request_id", request_id, body)
    body = if message == nil, do: body, else: :maps.put("message", message, body)

    [
      JSON.encode_to_iodata(%{
        "status" => status,
        "headers" => %{"content-type" => "application/json"}
      }),
      ?\n
      | JSON.encode_to_iodata(body)
    ]
  end

  # --- crash reports ---------------------------------------------------------

  @doc false
  def format_crash(kind, reason, stack) do
    [banner(kind, reason), ?\n, format_stack(stack)]
  end

  defp banner(:error, %{__exception__: true, __struct__: mod} = e) do
    ["** (", module_name(mod), ") ", message(e)]
  end

  defp banner(:error, reason) do
    # Erlang errors (badarith, badmatch, ...) read better as the Elixir
    # exception they correspond to.
    normalized =
      try do
        Exception.normalize(:error, reason, [])
      catch
        _, _ -> reason
      end

    case normalized do
      %{__exception__: true} -> banner(:error, normalized)
      _ -> ["** (error) ", inspect(reason)]
    end
  end

  defp banner(kind, reason) do
    ["** (", :erlang.atom_to_binary(kind, :utf8), ") ", inspect(reason)]
  end

  defp message(e) do
    try do
      Exception.message(e)
    catch
      _, _ -> inspect(e)
    end
  end

  defp format_stack(stack) when is_list(stack), do: :lists.map(&entry/1, stack)
  defp format_stack(_), do: []

  defp entry({mod, fun, arity, loc}) when is_atom(mod) and is_atom(fun) do
    arity = if is_list(arity), do: length(arity), else: arity

    [
      "    ",
      module_name(mod),
      ?.,
      :erlang.atom_to_binary(fun, :utf8),
      ?/,
      :erlang.integer_to_binary(arity),
      location(loc),
      ?\n
    ]
  end

  defp entry(other), do: ["    ", inspect(other), ?\n]

  defp location(loc) when is_list(loc) do
    case {:lists.keyfind(:file, 1, loc), :lists.keyfind(:line, 1, loc)} do
      {{:file, f}, {:line, l}} -> [" (", f, ?:, :erlang.integer_to_binary(l), ?)]
      {{:file, f}, false} -> [" (", f, ?)]
      _ -> []
    end
  end

  defp location(_), do: []

  defp module_name(mod) do
    case :erlang.atom_to_binary(mod, :utf8) do
      "Elixir." <> name -> name
      name -> name
    end
  end
end
