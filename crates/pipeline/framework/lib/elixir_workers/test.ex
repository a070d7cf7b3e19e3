defmodule ElixirWorkers.Test do
  @moduledoc """
  Helpers for testing an app with ExUnit on your machine's Elixir (the BEAM,
  not AtomVM): build a request, run it through the app the way the worker
  does, with fake binding results, and look at the response and the writes.

      defmodule MyAppTest do
        use ExUnit.Case, async: true
        import ElixirWorkers.Test

        test "a profile comes from KV" do
          resp =
            call(MyApp, request("GET", "/users/42"),
              kv: %{"USERS" => %{"42" => ~s({"name":"Ada"})}}
            )

          assert resp.status == 200
          assert json(resp)["profile"] == ~s({"name":"Ada"})
          assert resp.passes == 2
        end

        test "signing up queues a mail" do
          resp = call(MyApp, request("POST", "/signup", json: %{"email" => "a@b.c"}))
          assert [%{"queue" => "EMAILS", "body" => %{"to" => "a@b.c"}}] = effects(resp, "queue_send")
        end
      end

  `call/3` runs the request through the same wire format and pass loop as
  the worker (`crates/pipeline/worker/PROTOCOL.md`): the app is run, the
  reads it asks for (its *needs*) are answered from the fakes, and it is run
  again with the results, until it answers or has asked for data 4 times
  (then, as in the worker, the response is a 500 `too_many_binding_passes`).
  Bytes (a fetched body, an R2 object) travel in the blob area after the
  body, as in the worker.

  Nothing the worker runs names this module, so the build leaves it out of
  `app.avm` (`elixir-workers build --explain` lists it as dropped) unless
  the app's own `lib/` code uses it.
  """

  alias ElixirWorkers.{Handler, JSON}

  @max_passes 4

  defmodule Response do
    @moduledoc """
    What `ElixirWorkers.Test.call/3` returns.

    `status` (integer), `headers` (name => string, or a list of strings for
    a header sent more than once), `body` (binary), `effects` (the writes
    the app queued, in order, as the effect maps of PROTOCOL.md; bytes sent
    as `"body_base64"` are also decoded into `"body"`), `passes` (how many
    times the app ran), `needs` (every read it asked for, over all passes).
    """
    defstruct status: nil, headers: %{}, body: "", effects: [], passes: 0, needs: []
  end

  @doc """
  A request to give to `call/3`.

  Options: `headers:` (a map or keyword list; names are lower-cased),
  `body:` (raw bytes), `json:` (a term sent as a JSON body with
  `content-type: application/json`), `form:` (a map sent urlencoded),
  `env:` (the worker's variables and secrets, as `conn.env` sees them),
  `cf:` (`request.cf`), `id:` (the request id, default `"test-request"`).
  The path may carry a query string: `request("GET", "/search?q=elixir")`.
  """
  def request(method, path, opts \\ []) when is_binary(path) and is_list(opts) do
    method = method |> to_string() |> String.upcase()
    headers = opts |> Keyword.get(:headers, %{}) |> Map.new(fn {k, v} -> {String.downcase(to_string(k)), to_string(v)} end)

    {body, headers} =
      cond do
        Keyword.has_key?(opts, :json) ->
          {JSON.encode(Keyword.fetch!(opts, :json)), Map.put_new(headers, "content-type", "application/json")}

        Keyword.has_key?(opts, :form) ->
          {URI.encode_query(Keyword.fetch!(opts, :form)),
           Map.put_new(headers, "content-type", "application/x-www-form-urlencoded")}

        true ->
          {IO.iodata_to_binary(Keyword.get(opts, :body, "")), headers}
      end

    headers = if body == "", do: headers, else: Map.put_new(headers, "content-length", Integer.to_string(byte_size(body)))

    %{
      head: %{
        "id" => Keyword.get(opts, :id, "test-request"),
        "method" => method,
        "url" => path,
        "headers" => headers,
        "env" => Keyword.get(opts, :env, %{}),
        "cf" => Keyword.get(opts, :cf, %{})
      },
      body: body
    }
  end

  @doc """
  A cron trigger run (the app's `scheduled:` handler): `cron` is the
  trigger's expression. Options: `scheduled_time:` (ms since the epoch),
  `env:`.
  """
  def scheduled(cron, opts \\ []) when is_binary(cron) do
    event = %{
      "type" => "scheduled",
      "cron" => cron,
      "scheduled_time" => Keyword.get(opts, :scheduled_time, System.system_time(:millisecond))
    }

    event_request(event, opts)
  end

  @doc """
  A queue batch run (the app's `queue:` handler). Each message is a body
  (any JSON term) or a map with `"body"` and optionally `"id"` and
  `"attempts"`. Options: `env:`.
  """
  def queue_batch(queue, messages, opts \\ []) when is_binary(queue) and is_list(messages) do
    messages =
      messages
      |> Enum.with_index(1)
      |> Enum.map(fn
        {%{"body" => _} = m, i} ->
          Map.merge(%{"id" => "msg-#{i}", "timestamp" => 0, "attempts" => 1}, m)

        {body, i} ->
          %{"id" => "msg-#{i}", "timestamp" => 0, "attempts" => 1, "body" => body}
      end)

    event_request(%{"type" => "queue", "queue" => queue, "messages" => messages}, opts)
  end

  @doc """
  Makes `request` one to a Durable Object of class `class` the app defines
  (`durable_objects:` of `use ElixirWorkers.App`), as the worker's object
  class runs it. Options: `name:` (the name the object was called by),
  `id:` (its hex id; 64 zeros unless given). Its storage is the `storage:`
  fake of `call/3`; its writes are the `do_storage_put` and
  `do_storage_delete` effects.
  """
  def durable_object(%{head: head} = request, class, opts \\ []) when is_binary(class) do
    event = %{
      "type" => "durable_object",
      "class" => class,
      "id" => Keyword.get(opts, :id, String.duplicate("0", 64)),
      "name" => Keyword.get(opts, :name)
    }

    %{request | head: Map.put(head, "event", event)}
  end

  defp event_request(event, opts) do
    %{
      head: %{"id" => Keyword.get(opts, :id, "test-event"), "event" => event, "env" => Keyword.get(opts, :env, %{})},
      body: ""
    }
  end

  @doc """
  Runs `request` through `app` and returns an `ElixirWorkers.Test.Response`.

  `app` is the entry module (`use ElixirWorkers.App`) or a router module.
  The fakes answer the app's reads:

    * `kv: %{"NS" => %{"key" => value}}`: a value is a string, or
      `{value, metadata}`; a key that is not there is a miss (`nil`).
      `KV.list/3` lists the keys of the map (prefix and limit honoured).
    * `d1: %{"DB" => fun}` where `fun.(sql, params)` returns the rows (a
      list of maps), or `%{"DB" => %{sql => rows}}`.
    * `r2: %{"BUCKET" => %{"key" => object}}`: an object is its bytes, or a
      map with `"body"` and optionally `"http_metadata"` and
      `"custom_metadata"`. Ranges, `head/3` and `list/3` (prefix, limit,
      delimiter) are served from it.
    * `fetch: fun` where `fun.(request)` gets `%{"url", "method",
      "headers", "body"}` and returns `%{"status", "headers", "body"}`
      (status defaults to 200), `{:ok, that}`, or `{:error, reason}` (a
      failed fetch, e.g. `"timeout"`); or `fetch: %{url => response}`.
    * `durable_objects: %{"BINDING" => fun}` where `fun.(request)` gets
      `%{"name" or "id", "method", "path", "headers", "body"}` and answers
      as a fetch fake does: what a route's `DurableObject.fetch/4` gets.
    * `storage: %{"key" => value}`: the storage of the Durable Object a
      `durable_object/3` request runs in (`Storage.get/2` and `list/2`).
    * `needs: fun`: any other need (its map, as in PROTOCOL.md) gets
      `fun.(need)`, which returns `{:ok, value}` or `{:error, message}`.

  They may also be grouped: `bindings: %{kv: ..., fetch: ...}`.

  A read for which no fake was given raises an `ArgumentError` naming it,
  so that a test never passes on a read it did not set up.
  """
  def call(app, request, fakes \\ [])

  def call(app, %{head: head, body: body}, fakes) when is_atom(app) and is_list(fakes) do
    # `bindings: %{kv: ..., fetch: ...}` is the same as giving them directly.
    {grouped, fakes} = Keyword.pop(fakes, :bindings, %{})
    fakes = Keyword.merge(fakes, Enum.to_list(grouped))
    run(entry(app), head, body, fakes, 1, %{}, "", [])
  end

  @doc "The response body decoded as JSON."
  def json(%Response{body: body}), do: JSON.decode!(body)

  @doc "The effects of `type` the app queued (`\"kv_put\"`, `\"r2_put\"`, `\"queue_send\"`, ...), in order."
  def effects(%Response{effects: effects}, type), do: Enum.filter(effects, &(&1["type"] == type))

  @doc "A response header (name in lower case), or `nil`."
  def header(%Response{headers: headers}, name), do: Map.get(headers, name)

  defp entry(app) do
    Code.ensure_loaded(app)

    cond do
      function_exported?(app, :__elixir_workers_app__, 0) -> &app.handle/1
      function_exported?(app, :call, 1) -> &Handler.handle(app, &1)
      true -> raise ArgumentError, "#{inspect(app)} is neither an app (use ElixirWorkers.App) nor a router"
    end
  end

  defp run(handle, head, body, fakes, pass, results, blobs, asked) do
    head = Map.put(head, "pass", pass)
    head = if results == %{}, do: head, else: Map.put(head, "bindings", results)
    head = if blobs == "", do: head, else: Map.put(head, "body_size", byte_size(body))
    out = IO.iodata_to_binary(handle.(IO.iodata_to_binary([JSON.encode(head), ?\n, body, blobs])))
    [line, resp_body] = :binary.split(out, "\n")

    case JSON.decode!(line) do
      %{"_needs" => needs} when pass >= @max_passes ->
        error = %{"error" => "too_many_binding_passes", "passes" => pass, "request_id" => head["id"]}

        %Response{
          status: 500,
          headers: %{"content-type" => "application/json"},
          body: JSON.encode(error),
          passes: pass,
          needs: asked ++ needs
        }

      %{"_needs" => needs} ->
        {results, blobs} =
          Enum.reduce(needs, {results, blobs}, fn need, {acc, blobs} ->
            {result, blobs} = answer(need, fakes, blobs)
            {Map.put(acc, need["id"], result), blobs}
          end)

        run(handle, head, body, fakes, pass + 1, results, blobs, asked ++ needs)

      %{"status" => status} = resp_head ->
        %Response{
          status: status,
          headers: Map.get(resp_head, "headers", %{}),
          body: resp_body,
          effects: Enum.map(Map.get(resp_head, "_effects", []), &decode_bytes/1),
          passes: pass,
          needs: asked
        }
    end
  end

  defp decode_bytes(%{"body_base64" => b64} = effect), do: Map.put(effect, "body", Base.decode64!(b64))

  defp decode_bytes(%{"messages" => messages} = effect) when is_list(messages),
    do: %{effect | "messages" => Enum.map(messages, &decode_bytes/1)}

  defp decode_bytes(effect), do: effect

  # --- the fakes -------------------------------------------------------------

  # Returns the result object for the need ({"ok": ...} or {"error": ...})
  # and the blob area with any bytes it points to appended.
  defp answer(%{"type" => "kv_get", "ns" => ns, "key" => key}, fakes, blobs) do
    value =
      case Map.fetch(store(fakes, :kv, ns), key) do
        {:ok, {value, _metadata}} -> value
        {:ok, value} -> value
        :error -> nil
      end

    {%{"ok" => value}, blobs}
  end

  defp answer(%{"type" => "kv_get_with_metadata", "ns" => ns, "key" => key}, fakes, blobs) do
    result =
      case Map.fetch(store(fakes, :kv, ns), key) do
        {:ok, {value, metadata}} -> %{"value" => value, "metadata" => metadata}
        {:ok, value} -> %{"value" => value, "metadata" => nil}
        :error -> %{"value" => nil, "metadata" => nil}
      end

    {%{"ok" => result}, blobs}
  end

  defp answer(%{"type" => "kv_list", "ns" => ns} = need, fakes, blobs) do
    keys =
      store(fakes, :kv, ns)
      |> Enum.filter(fn {k, _} -> String.starts_with?(k, Map.get(need, "prefix", "")) end)
      |> Enum.sort()
      |> Enum.map(fn
        {k, {_v, metadata}} -> %{"name" => k, "expiration" => nil, "metadata" => metadata}
        {k, _v} -> %{"name" => k, "expiration" => nil, "metadata" => nil}
      end)

    {page, complete} = limit(keys, Map.get(need, "limit"))
    {%{"ok" => %{"keys" => page, "list_complete" => complete, "cursor" => nil}}, blobs}
  end

  defp answer(%{"type" => "d1_query", "db" => db, "sql" => sql, "params" => params}, fakes, blobs) do
    rows =
      case db_fake(fakes, db) do
        fun when is_function(fun, 2) ->
          fun.(sql, params)

        %{} = by_sql ->
          case Map.fetch(by_sql, sql) do
            {:ok, rows} -> rows
            :error -> raise ArgumentError, "the app queried D1 #{inspect(db)} with #{inspect(sql)}, which the test's d1 fake has no rows for"
          end
      end

    {%{"ok" => rows}, blobs}
  end

  defp answer(%{"type" => type, "bucket" => bucket, "key" => key} = need, fakes, blobs)
       when type in ["r2_get", "r2_head"] do
    case Map.fetch(store(fakes, :r2, bucket), key) do
      :error ->
        {%{"ok" => nil}, blobs}

      {:ok, stored} ->
        bytes = if is_map(stored), do: IO.iodata_to_binary(Map.get(stored, "body", "")), else: IO.iodata_to_binary(stored)
        object = r2_object(key, stored, bytes)

        if type == "r2_head" do
          {%{"ok" => object}, blobs}
        else
          {part, range} = r2_range(bytes, Map.get(need, "range"))
          object = Map.put(object, "body", [byte_size(blobs), byte_size(part)])
          object = if range, do: Map.put(object, "range", range), else: object
          {%{"ok" => object}, blobs <> part}
        end
    end
  end

  defp answer(%{"type" => "r2_list", "bucket" => bucket} = need, fakes, blobs) do
    prefix = Map.get(need, "prefix", "")
    delimiter = Map.get(need, "delimiter")

    matching =
      store(fakes, :r2, bucket)
      |> Enum.filter(fn {k, _} -> String.starts_with?(k, prefix) end)
      |> Enum.sort()

    {objects, prefixes} =
      Enum.reduce(matching, {[], []}, fn {key, stored}, {objects, prefixes} ->
        rest = binary_part(key, byte_size(prefix), byte_size(key) - byte_size(prefix))

        case delimiter && :binary.match(rest, delimiter) do
          {at, len} -> {objects, [prefix <> binary_part(rest, 0, at + len) | prefixes]}
          _ -> {[r2_object(key, stored, r2_bytes(stored)) | objects], prefixes}
        end
      end)

    {page, complete} = limit(Enum.reverse(objects), Map.get(need, "limit"))

    result = %{
      "objects" => page,
      "truncated" => not complete,
      "cursor" => nil,
      "delimited_prefixes" => prefixes |> Enum.reverse() |> Enum.uniq()
    }

    {%{"ok" => result}, blobs}
  end

  defp answer(%{"type" => "fetch", "url" => url} = need, fakes, blobs) do
    request = %{
      "url" => url,
      "method" => need["method"],
      "headers" => Map.get(need, "headers", %{}),
      "body" => Base.decode64!(Map.get(need, "body_base64", ""))
    }

    reply =
      case Keyword.fetch(fakes, :fetch) do
        {:ok, fun} when is_function(fun, 1) ->
          fun.(request)

        {:ok, %{} = by_url} ->
          Map.get_lazy(by_url, url, fn ->
            raise ArgumentError, "the app fetched #{url}, which the test's fetch fake has no answer for"
          end)

        :error ->
          raise ArgumentError, "the app fetched #{need["method"]} #{url} but the test gave no fetch: fake"
      end

    case reply do
      {:error, reason} ->
        reason = to_string(reason)
        {%{"error" => "fetch #{need["method"]} #{url} failed: #{reason}", "reason" => reason}, blobs}

      {:ok, %{} = response} ->
        fetch_response(response, url, blobs)

      %{} = response ->
        fetch_response(response, url, blobs)
    end
  end

  defp answer(%{"type" => "do_fetch", "binding" => binding} = need, fakes, blobs) do
    who = if need["object_id"], do: %{"id" => need["object_id"]}, else: %{"name" => need["object_name"]}

    request =
      Map.merge(who, %{
        "method" => need["method"],
        "path" => need["path"],
        "headers" => Map.get(need, "headers", %{}),
        "body" => Base.decode64!(Map.get(need, "body_base64", ""))
      })

    fun =
      case fakes |> Keyword.get(:durable_objects, %{}) |> Map.fetch(binding) do
        {:ok, fun} when is_function(fun, 1) ->
          fun

        _ ->
          raise ArgumentError,
                "the app called the Durable Object binding #{inspect(binding)}, which the test did not fake: " <>
                  "pass durable_objects: %{#{inspect(binding)} => fn request -> response end} to call/3"
      end

    case fun.(request) do
      {:error, reason} ->
        reason = to_string(reason)
        {%{"error" => "Durable Object #{binding}: #{reason}", "reason" => reason}, blobs}

      {:ok, %{} = response} ->
        {%{"ok" => result}, blobs} = fetch_response(response, "", blobs)
        {%{"ok" => Map.delete(result, "url")}, blobs}

      %{} = response ->
        {%{"ok" => result}, blobs} = fetch_response(response, "", blobs)
        {%{"ok" => Map.delete(result, "url")}, blobs}
    end
  end

  defp answer(%{"type" => "do_storage_get", "key" => key}, fakes, blobs),
    do: {%{"ok" => Map.get(storage(fakes), key)}, blobs}

  defp answer(%{"type" => "do_storage_list"} = need, fakes, blobs) do
    prefix = Map.get(need, "prefix", "")

    entries =
      storage(fakes)
      |> Enum.filter(fn {k, _} -> String.starts_with?(k, prefix) end)
      |> Enum.sort()

    entries = if need["reverse"], do: Enum.reverse(entries), else: entries
    {page, _complete} = limit(entries, Map.get(need, "limit"))
    {%{"ok" => Map.new(page)}, blobs}
  end

  defp answer(need, fakes, blobs) do
    case Keyword.fetch(fakes, :needs) do
      {:ok, fun} when is_function(fun, 1) ->
        case fun.(need) do
          {:ok, value} -> {%{"ok" => value}, blobs}
          {:error, message} -> {%{"error" => to_string(message)}, blobs}
        end

      :error ->
        raise ArgumentError, "the app asked for #{JSON.encode(Map.delete(need, "id"))}, which no fake given to call/3 answers"
    end
  end

  defp fetch_response(response, url, blobs) do
    bytes = IO.iodata_to_binary(Map.get(response, "body", ""))
    headers = Map.new(Map.get(response, "headers", %{}), fn {k, v} -> {String.downcase(to_string(k)), v} end)

    result = %{
      "status" => Map.get(response, "status", 200),
      "headers" => headers,
      "url" => Map.get(response, "url", url),
      "body" => [byte_size(blobs), byte_size(bytes)]
    }

    {%{"ok" => result}, blobs <> bytes}
  end

  defp storage(fakes) do
    case Keyword.fetch(fakes, :storage) do
      {:ok, %{} = map} -> map
      _ -> raise ArgumentError, "the app read Durable Object storage, which the test did not fake: pass storage: %{...} to call/3"
    end
  end

  defp store(fakes, kind, name) do
    case fakes |> Keyword.get(kind, %{}) |> Map.fetch(name) do
      {:ok, %{} = map} ->
        map

      _ ->
        raise ArgumentError,
              "the app read #{kind_name(kind)} #{inspect(name)}, which the test did not fake: " <>
                "pass #{kind}: %{#{inspect(name)} => %{...}} to call/3"
    end
  end

  defp db_fake(fakes, db) do
    case fakes |> Keyword.get(:d1, %{}) |> Map.fetch(db) do
      {:ok, fake} when is_function(fake, 2) or is_map(fake) -> fake
      _ -> raise ArgumentError, "the app queried D1 #{inspect(db)}, which the test did not fake: pass d1: %{#{inspect(db)} => fn sql, params -> rows end}"
    end
  end

  defp kind_name(:kv), do: "the KV namespace"
  defp kind_name(:r2), do: "the R2 bucket"

  defp limit(list, n) when is_integer(n) and n < length(list), do: {Enum.take(list, n), false}
  defp limit(list, _n), do: {list, true}

  defp r2_bytes(stored) when is_map(stored), do: IO.iodata_to_binary(Map.get(stored, "body", ""))
  defp r2_bytes(stored), do: IO.iodata_to_binary(stored)

  defp r2_object(key, stored, bytes) do
    meta = if is_map(stored), do: stored, else: %{}

    %{
      "key" => key,
      "size" => byte_size(bytes),
      "etag" => Base.encode16(:erlang.md5(bytes), case: :lower),
      "version" => "test",
      "uploaded" => "2025-01-01T00:00:00.000Z",
      "http_metadata" => Map.get(meta, "http_metadata", %{}),
      "custom_metadata" => Map.get(meta, "custom_metadata", %{})
    }
  end

  defp r2_range(bytes, nil), do: {bytes, nil}

  defp r2_range(bytes, %{"suffix" => n}) do
    n = min(n, byte_size(bytes))
    {binary_part(bytes, byte_size(bytes) - n, n), %{"offset" => byte_size(bytes) - n, "length" => n}}
  end

  defp r2_range(bytes, range) do
    offset = min(Map.get(range, "offset", 0), byte_size(bytes))
    length = min(Map.get(range, "length", byte_size(bytes) - offset), byte_size(bytes) - offset)
    {binary_part(bytes, offset, length), %{"offset" => offset, "length" => length}}
  end
end
