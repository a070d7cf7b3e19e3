defmodule ElixirWorkers.Conn do
  @moduledoc """
  The request and the response being built, as one struct.

  Request fields: `method` (upper-case binary), `path`, `path_segments`,
  `query_string`, `query_params` (map), `headers` (map, lower-case names),
  `body` (raw bytes), `parsed_body` (set by `ElixirWorkers.Middleware.parse_body/1`),
  `params` (path captures), `env` (the worker's variables and secrets, see
  `env/3`), `cf` (Cloudflare request properties), `request_id`, `pass` (1 on
  the first run, higher when bindings were fetched), `assigns` (yours).

  `event` is `nil` for an HTTP request. A run that is not one carries the
  event instead of a request: `%{"type" => "scheduled", "cron" => ...,
  "scheduled_time" => ...}` for a cron trigger (see `ElixirWorkers.App`,
  `scheduled:`) or `%{"type" => "queue", "queue" => ..., "messages" => [...]}`
  for a batch of queue messages (see `ElixirWorkers.Queue`). A request to a
  Durable Object the app defines has both: the request, and `%{"type" =>
  "durable_object", "class" => ..., "id" => ..., "name" => ...}` (see
  `ElixirWorkers.DurableObject`).

  Response fields: `status`, `resp_headers` (name => value or list of values),
  `resp_body` (iodata), `halted`, `effects` (writes to run after the response).

  The conn is a struct, not the string-keyed map of the original Mix-based
  elixir-workers: `conn["method"]` raises an `ElixirWorkers.Error` that
  names `conn.method`.
  """

  defstruct method: "GET",
            path: "/",
            path_segments: [],
            query_string: "",
            query_params: %{},
            headers: %{},
            body: "",
            parsed_body: nil,
            params: %{},
            env: %{},
            cf: %{},
            request_id: "",
            pass: 1,
            bindings: %{},
            assigns: %{},
            status: nil,
            resp_headers: %{},
            resp_body: "",
            halted: false,
            effects: [],
            event: nil,
            blobs: ""

  # defstruct's __struct__/1 (used by `struct/2`) folds the fields with
  # Enum, which would bring Enum and the protocols into every app.avm.
  defoverridable __struct__: 1

  @doc false
  def __struct__(fields) do
    :lists.foldl(fn {k, v}, acc -> :maps.update(k, v, acc) end, __struct__(), fields)
  end

  alias ElixirWorkers.{Conn, JSON, URL}

  @doc "Builds a conn from a decoded request head and the raw body bytes."
  def from_request(head, body) when is_map(head) do
    # One pass over the head with binary patterns: a lookup such as
    # `:maps.get("url", head)` would load the literal "url", and upstream
    # AtomVM pays a garbage collection for every literal it loads (our
    # runtime decodes literals once at boot).
    conn = fields(:maps.to_list(head), %Conn{body: body}) |> split_blobs()
    {path, qs} = URL.split_target(conn.path)

    %{
      conn
      | path: path,
        path_segments: URL.segments(path),
        query_string: qs,
        query_params: URL.decode_query(qs)
    }
  end

  # With "body_size" in the head, the request body is only the first
  # body_size bytes; the bytes after it are the blob area that binding
  # results point into (ElixirWorkers.Bindings.bytes/2). Until split,
  # `blobs` holds the size the head gave.
  defp split_blobs(%Conn{blobs: n, body: body} = conn) when is_integer(n) do
    if n >= 0 and n <= byte_size(body) do
      <<own::binary-size(n), blobs::binary>> = body
      %{conn | body: own, blobs: blobs}
    else
      %{conn | blobs: ""}
    end
  end

  defp split_blobs(conn), do: %{conn | blobs: ""}

  defp fields([], conn), do: conn
  defp fields([{"method", m} | t], conn) when is_binary(m), do: fields(t, %{conn | method: m})
  defp fields([{"url", u} | t], conn) when is_binary(u), do: fields(t, %{conn | path: u})
  defp fields([{"headers", h} | t], conn) when is_map(h), do: fields(t, %{conn | headers: h})
  defp fields([{"env", e} | t], conn) when is_map(e), do: fields(t, %{conn | env: e})
  defp fields([{"cf", c} | t], conn) when is_map(c), do: fields(t, %{conn | cf: c})
  defp fields([{"id", i} | t], conn) when is_binary(i), do: fields(t, %{conn | request_id: i})
  defp fields([{"pass", p} | t], conn) when is_integer(p), do: fields(t, %{conn | pass: p})
  defp fields([{"bindings", b} | t], conn) when is_map(b), do: fields(t, %{conn | bindings: b})
  defp fields([{"body_size", n} | t], conn) when is_integer(n), do: fields(t, %{conn | blobs: n})
  defp fields([{"event", e} | t], conn) when is_map(e), do: fields(t, %{conn | event: e})
  defp fields([_ | t], conn), do: fields(t, conn)

  # --- request helpers -------------------------------------------------------

  @doc "The value of a request header (name in lower case), or `default`."
  def get_header(%Conn{headers: h}, name, default \\ nil), do: :maps.get(name, h, default)

  @doc "A query parameter, or `default`."
  def query(%Conn{query_params: q}, name, default \\ nil), do: :maps.get(name, q, default)

  @doc "A path capture (`:name` in the route), or `default`."
  def param(%Conn{params: p}, name, default \\ nil), do: :maps.get(name, p, default)

  @doc """
  A worker variable or secret, or `default`.

  Variables come from `vars` in `wrangler.jsonc` with their JSON types: a
  string stays a binary, a number an integer or float, `true`/`false`
  booleans, an object a map with string keys, an array a list. Secrets
  (`wrangler secret put`, and `.dev.vars` under `wrangler dev`) are
  binaries. Bindings (KV, D1, R2, queues, ...) are not here: they are used
  by name through `ElixirWorkers.KV` and the other binding modules.
  """
  def env(%Conn{env: e}, name, default \\ nil), do: :maps.get(name, e, default)

  @doc "Stores a value of your own on the conn."
  def assign(%Conn{assigns: a} = conn, key, value), do: %{conn | assigns: :maps.put(key, value, a)}

  # --- response builders -----------------------------------------------------

  @doc "Sets a response header, replacing any earlier value. A list value sends the header once per element."
  def put_header(%Conn{resp_headers: h} = conn, name, value),
    do: %{conn | resp_headers: :maps.put(name, value, h)}

  @doc "Alias of `put_header/3`."
  def put_resp_header(conn, name, value), do: put_header(conn, name, value)

  @doc "Adds one more value for a header (e.g. a second `set-cookie`)."
  def append_header(%Conn{resp_headers: h} = conn, name, value) do
    values =
      case :maps.find(name, h) do
        :error -> value
        {:ok, old} when is_list(old) -> :lists.reverse([value | :lists.reverse(old)])
        {:ok, old} -> [old, value]
      end

    %{conn | resp_headers: :maps.put(name, values, h)}
  end

  @doc "Removes a response header."
  def delete_header(%Conn{resp_headers: h} = conn, name),
    do: %{conn | resp_headers: :maps.remove(name, h)}

  @doc "Sets the response status."
  def put_status(conn, status) when is_integer(status), do: %{conn | status: status}

  @doc "Sets status and body (iodata) as they are."
  def send_resp(conn, status, body) when is_integer(status),
    do: %{conn | status: status, resp_body: body}

  @doc "An HTML response."
  def html(conn, status \\ 200, body),
    do: conn |> put_header("content-type", "text/html; charset=utf-8") |> send_resp(status, body)

  @doc "A plain-text response."
  def text(conn, status \\ 200, body),
    do: conn |> put_header("content-type", "text/plain; charset=utf-8") |> send_resp(status, body)

  @doc "A JSON response: `data` is encoded with `ElixirWorkers.JSON`."
  def json(conn, status \\ 200, data),
    do:
      conn
      |> put_header("content-type", "application/json")
      |> send_resp(status, JSON.encode_to_iodata(data))

  @doc "A redirect (302 unless given)."
  def redirect(conn, url, status \\ 302) when is_binary(url),
    do: conn |> put_header("location", url) |> send_resp(status, "")

  @doc "Stops the middleware pipeline; the router will not dispatch."
  def halt(conn), do: %{conn | halted: true}

  @doc "Queues a write to run after the response is sent (see `ElixirWorkers.KV`, `ElixirWorkers.D1`)."
  def add_effect(%Conn{effects: e} = conn, effect) when is_map(effect),
    do: %{conn | effects: [effect | e]}

  # --- map access of the original framework -----------------------------------
  #
  # Elixir's `conn["method"]`, `get_in`, `put_in` and `pop_in` call these on a
  # struct. Without them the error is an UndefinedFunctionError about the
  # Access behaviour, which does not say what to write instead. The behaviour
  # is not declared: that would name `Access` in the worker's code (see
  # ARCHITECTURE.md), and Elixir calls these functions without it.

  @doc false
  def fetch(%Conn{} = conn, key), do: refuse_access(conn, key)

  @doc false
  def get_and_update(%Conn{} = conn, key, _fun), do: refuse_access(conn, key)

  @doc false
  def pop(%Conn{} = conn, key), do: refuse_access(conn, key)

  defp refuse_access(conn, key) do
    :erlang.error(
      ElixirWorkers.Error.exception(
        "conn[" <> ElixirWorkers.Format.inspect(key) <>
          "] is the map access of the original Mix-based elixir-workers; " <>
          "ElixirWorkers.Conn is a struct: " <> access_hint(conn, key)
      )
    )
  end

  defp access_hint(conn, key) do
    case field_named(:maps.keys(conn), key) do
      nil ->
        "use its fields (conn.method, conn.path, conn.params[\"id\"], conn.parsed_body, conn.assigns)"

      field ->
        "use conn." <> field
    end
  end

  # The field a string or atom key names, as a binary, or nil.
  defp field_named([], _key), do: nil
  defp field_named([:__struct__ | rest], key), do: field_named(rest, key)

  defp field_named([field | rest], key) do
    name = :erlang.atom_to_binary(field, :utf8)
    if key == name or key == field, do: name, else: field_named(rest, key)
  end
end
