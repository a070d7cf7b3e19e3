defmodule TestApp.Router do
  @moduledoc false
  # Every route shape the framework supports, used by the ExUnit tests on the
  # BEAM and by the end-to-end tests on the real AtomVM runtime.
  use ElixirWorkers.Router

  alias ElixirWorkers.Runtime

  @static_page "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Static</title></head><body><h1>Static page</h1><table><tr><td class=\"num\">1</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">2</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">3</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">4</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">5</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">6</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">7</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">8</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">9</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">10</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">11</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">12</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">13</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">14</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">15</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">16</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">17</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">18</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">19</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">20</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">21</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">22</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">23</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">24</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">25</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">26</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">27</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">28</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">29</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">30</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">31</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">32</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">33</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">34</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">35</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">36</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">37</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">38</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">39</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">40</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">41</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">42</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">43</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">44</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">45</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">46</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">47</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">48</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">49</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">50</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">51</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">52</td><td>A static row of the page, the same on every request</td></tr><tr><td class=\"num\">53</td><td>A static row of the page, the same on every request</td></tr></table></body></html>"

  get "/", :home
  get "/health", :health
  get "/page", :page
  get "/page_static", :page_static
  post "/echo", :echo
  post "/echo_raw", :echo_raw
  post "/binary", :binary
  post "/form", :form
  get "/query", :query
  get "/users/:id", :show_user
  put "/users/:id", :update_user
  get "/users/:id/posts/:post_id", &__MODULE__.user_post/1
  get "/files/*path", :files
  get "/unicode", :unicode
  get "/redirect", :redirect
  get "/cookies", :cookies
  get "/status/:code", :status
  get "/env/:name", :env
  get "/noisy", :noisy
  get "/crash", :crash
  get "/throw", :throw_route
  get "/badarith", :badarith
  get "/bad_return", :bad_return
  post "/strict_json", :strict_json
  post "/json_diff", :json_diff
  get "/kv/:key", :kv_get
  post "/kv/:key", :kv_put
  delete "/kv/:key", :kv_delete
  get "/kv_meta/:key", :kv_meta
  get "/kv_list", :kv_list
  get "/kv_two", :kv_two
  get "/kv_chain", :kv_chain
  get "/kv_greedy", :kv_greedy
  get "/kv_unbound", :kv_unbound
  get "/kv_crash_pass1", :kv_crash_pass1
  get "/d1/users", :d1_query
  get "/d1/user/:id", :d1_one
  post "/d1/users", :d1_exec
  post "/d1/batch", :d1_batch
  get "/state/:tag", :state
  get "/fetch", :fetch_one
  post "/fetch", :fetch_one
  get "/fetch_many", :fetch_many
  get "/round/:key", :one_round
  get "/chain/:key", :chain
  get "/r2/:key", :r2_get
  put "/r2/:key", :r2_put
  delete "/r2/:key", :r2_delete
  get "/r2_head/:key", :r2_head
  get "/r2_list", :r2_list
  post "/queue/send", :queue_send
  post "/queue/batch", :queue_batch
  post "/counter/:name", :counter_increment
  get "/counter/:name", :counter_read
  get "/counter_by_id/:id", :counter_by_id
  match "*", "/any", fn conn -> Conn.text(conn, 200, "any " <> conn.method) end

  def home(conn), do: Conn.text(conn, 200, "home")

  # The Counter Durable Object, by name; its answer passed on as it came.
  def counter_increment(conn), do: call_counter(conn, conn.params["name"], "POST", "/increment")
  def counter_read(conn), do: call_counter(conn, conn.params["name"], "GET", "/")
  def counter_by_id(conn), do: call_counter(conn, {:id, conn.params["id"]}, "GET", "/")

  defp call_counter(conn, object, method, path) do
    case ElixirWorkers.DurableObject.fetch(conn, "COUNTER", object, %{"method" => method, "path" => path}) do
      nil ->
        conn

      {:ok, %{"status" => status, "body" => body}} ->
        conn |> Conn.put_resp_header("x-pass", :erlang.integer_to_binary(conn.pass)) |> Conn.text(status, body)

      {:error, error} ->
        Conn.json(conn, 502, error)
    end
  end

  def health(conn), do: Conn.json(conn, 200, %{"status" => "ok"})

  # About 5 KB of HTML built from escaped rows, like a small server-rendered page.
  def page(conn) do
    rows =
      HTML.each(:lists.seq(1, 52), fn i ->
        n = :erlang.integer_to_binary(i)
        HTML.tag("tr", [
          HTML.tag("td", n),
          HTML.tag("td", HTML.escape("item <" <> n <> "> & \"friends\"")),
          HTML.tag("td", [{"class", "num"}], n)
        ])
      end)

    Conn.html(conn, 200, [
      "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Page</title></head><body>",
      HTML.tag("h1", "Items"),
      HTML.tag("table", [{"class", "items"}], rows),
      "</body></html>"
    ])
  end

  # About 5 KB known at compile time: one literal, like a static home page.
  def page_static(conn), do: Conn.html(conn, 200, @static_page)

  def echo(conn), do: Conn.json(conn, 200, conn.parsed_body)

  # The shape of the original tool's echo route: raw body, method and parsed body.
  def echo_raw(conn) do
    Conn.json(conn, 200, %{
      "echo" => conn.body,
      "method" => conn.method,
      "parsed_body" => conn.parsed_body
    })
  end

  def binary(conn) do
    conn
    |> Conn.put_header("content-type", "application/octet-stream")
    |> Conn.send_resp(200, conn.body)
  end

  def form(conn), do: Conn.json(conn, 200, conn.parsed_body)

  def query(conn), do: Conn.json(conn, 200, conn.query_params)

  def show_user(conn), do: Conn.json(conn, 200, %{"id" => conn.params["id"]})

  def update_user(conn), do: Conn.json(conn, 200, %{"updated" => conn.params["id"]})

  def user_post(conn), do: Conn.json(conn, 200, conn.params)

  def files(conn), do: Conn.json(conn, 200, %{"path" => conn.params["path"]})

  def unicode(conn) do
    Conn.json(conn, 200, %{"snowman" => "☃", "e" => "é", "emoji" => "😀", "float" => 1.5, "neg" => -2})
  end

  def redirect(conn), do: Conn.redirect(conn, "/health")

  def cookies(conn) do
    conn
    |> Conn.append_header("set-cookie", "a=1; Path=/")
    |> Conn.append_header("set-cookie", "b=2; Path=/")
    |> Conn.text(200, "cookies")
  end

  def status(conn) do
    code = :erlang.binary_to_integer(conn.params["code"])
    Conn.text(conn, code, "status " <> conn.params["code"])
  end

  def env(conn), do: Conn.json(conn, 200, %{"value" => Conn.env(conn, conn.params["name"])})

  # Writes things that look like responses to stdout and stderr: they are
  # logs and must never reach the client.
  def noisy(conn) do
    Runtime.log("{\"status\":999,\"headers\":{},\"body\":\"from stdout\"}\n")
    Runtime.log_error("{\"status\":998}\n")
    Conn.text(conn, 200, "quiet")
  end

  def crash(_conn), do: raise("boom from TestApp")

  def throw_route(_conn), do: throw(:thrown_value)

  def badarith(conn) do
    zero = :erlang.length(conn.path_segments) - 1
    Conn.text(conn, 200, :erlang.integer_to_binary(div(1, zero)))
  end

  def bad_return(_conn), do: :not_a_conn

  # The differential test of the JSON/HTML NIFs (TestApp.JsonDiff).
  def json_diff(conn) do
    conn
    |> Conn.put_header("content-type", "text/plain")
    |> Conn.send_resp(200, TestApp.JsonDiff.report(conn.body))
  end

  def strict_json(conn) do
    data = Body.json!(conn)
    Conn.json(conn, 200, %{"got" => data})
  end

  def kv_get(conn) do
    value = KV.get(conn, "CACHE", conn.params["key"])
    Conn.json(conn, 200, %{"key" => conn.params["key"], "value" => value, "found" => value != nil})
  end

  def kv_put(conn) do
    conn
    |> KV.put("CACHE", conn.params["key"], conn.body, %{"expiration_ttl" => 60})
    |> Conn.json(202, %{"stored" => conn.params["key"]})
  end

  def kv_delete(conn) do
    conn
    |> KV.delete("CACHE", conn.params["key"])
    |> Conn.json(202, %{"deleted" => conn.params["key"]})
  end

  def kv_meta(conn), do: Conn.json(conn, 200, %{"result" => KV.get_with_metadata(conn, "CACHE", conn.params["key"])})

  def kv_list(conn) do
    Conn.json(conn, 200, KV.list(conn, "CACHE", %{"prefix" => Conn.query(conn, "prefix", "")}))
  end

  # Two independent reads: fetched in one extra pass.
  def kv_two(conn) do
    a = KV.get(conn, "CACHE", "a")
    b = KV.get(conn, "CACHE", "b")
    Conn.json(conn, 200, %{"a" => a, "b" => b})
  end

  # A read that depends on another: two extra passes.
  def kv_chain(conn) do
    pointer = KV.get(conn, "CACHE", "pointer")
    target = if pointer, do: KV.get(conn, "CACHE", pointer), else: nil
    Conn.json(conn, 200, %{"pointer" => pointer, "target" => target})
  end

  # Asks for a different key on every pass: must be stopped by the pass limit.
  def kv_greedy(conn) do
    _ = KV.get(conn, "CACHE", "greedy-" <> :erlang.integer_to_binary(conn.pass))
    Conn.text(conn, 200, "never")
  end

  def kv_unbound(conn) do
    value = KV.get(conn, "NOT_BOUND", "x")
    Conn.json(conn, 200, %{"value" => value})
  end

  # Crashes on the placeholder nil of the first pass; fine on the second.
  def kv_crash_pass1(conn) do
    value = KV.get(conn, "CACHE", "a")
    Conn.text(conn, 200, "len " <> :erlang.integer_to_binary(byte_size(value)))
  end

  def d1_query(conn) do
    rows = D1.query(conn, "DB", "SELECT id, name FROM users WHERE id > ?", [0])
    Conn.json(conn, 200, %{"rows" => rows})
  end

  def d1_one(conn) do
    row = D1.query_one(conn, "DB", "SELECT id, name FROM users WHERE id = ?", [conn.params["id"]])
    Conn.json(conn, 200, %{"row" => row})
  end

  def d1_exec(conn) do
    %{"name" => name} = conn.parsed_body

    conn
    |> D1.exec("DB", "INSERT INTO users (name) VALUES (?)", [name])
    |> Conn.json(202, %{"queued" => name})
  end

  def d1_batch(conn) do
    conn
    |> D1.batch("DB", [
      {"INSERT INTO users (name) VALUES (?)", ["x"]},
      %{"sql" => "DELETE FROM users WHERE name = ?", "params" => ["y"]}
    ])
    |> Conn.text(202, "batched")
  end

  # One outbound request; the query names it: url, method (from the
  # request), timeout_ms. The upstream body comes back byte for byte, its
  # status and headers in x-upstream-* headers; a failed fetch answers 502
  # with the error.
  def fetch_one(conn) do
    opts = %{"method" => conn.method, "headers" => %{"x-from" => "elixir-workers"}}
    opts = if conn.body == "", do: opts, else: :maps.put("body", conn.body, opts)

    opts =
      case Conn.query(conn, "timeout_ms") do
        nil -> opts
        t -> :maps.put("timeout_ms", :erlang.binary_to_integer(t), opts)
      end

    case Fetch.request(conn, Conn.query(conn, "url"), opts) do
      {:ok, resp} ->
        conn
        |> Conn.put_header("content-type", "application/octet-stream")
        |> Conn.put_header("x-upstream-status", :erlang.integer_to_binary(resp["status"]))
        |> Conn.put_header("x-upstream-type", :maps.get("content-type", resp["headers"], ""))
        |> Conn.put_header("x-upstream-cookies", :erlang.integer_to_binary(length(:maps.get("set-cookie", resp["headers"], []))))
        |> Conn.put_header("x-pass", :erlang.integer_to_binary(conn.pass))
        |> Conn.send_resp(200, resp["body"])

      {:error, error} ->
        Conn.json(conn, 502, %{"error" => error, "pass" => conn.pass})

      nil ->
        Conn.text(conn, 200, "pending")
    end
  end

  # n fetches of url?i=<i> in one round: all asked for before any is looked at.
  def fetch_many(conn) do
    n = :erlang.binary_to_integer(Conn.query(conn, "n"))
    url = Conn.query(conn, "url")
    answers = :lists.map(fn i -> Fetch.get(conn, url <> "?i=" <> :erlang.integer_to_binary(i)) end, :lists.seq(1, n))

    results =
      :lists.map(
        fn
          {:ok, resp} -> %{"status" => resp["status"], "body" => resp["body"]}
          {:error, error} -> %{"reason" => error["reason"], "error" => error["error"]}
          nil -> nil
        end,
        answers
      )

    Conn.json(conn, 200, %{"pass" => conn.pass, "results" => results})
  end

  # KV, R2 and a fetch read in one round: one extra pass for the three.
  def one_round(conn) do
    key = conn.params["key"]
    kv = KV.get(conn, "CACHE", key)
    object = R2.get(conn, "BUCKET", key)
    fetched = Fetch.get(conn, Conn.query(conn, "url"))

    Conn.json(conn, 200, %{
      "pass" => conn.pass,
      "kv" => kv,
      "r2_size" => object && object["size"],
      "fetch_status" =>
        case fetched do
          {:ok, resp} -> resp["status"]
          _ -> nil
        end
    })
  end

  # A read that depends on another: the fetched body names the R2 key.
  def chain(conn) do
    url = Conn.query(conn, "url") <> "?key=" <> conn.params["key"]

    case Fetch.get(conn, url) do
      {:ok, %{"body" => key}} ->
        object = R2.get(conn, "BUCKET", key)
        Conn.json(conn, 200, %{"pass" => conn.pass, "key" => key, "r2_size" => object && object["size"]})

      _ ->
        Conn.json(conn, 200, %{"pass" => conn.pass})
    end
  end

  def r2_get(conn) do
    opts =
      case {Conn.query(conn, "offset"), Conn.query(conn, "length"), Conn.query(conn, "suffix")} do
        {nil, nil, nil} -> %{}
        {nil, nil, s} -> %{"range" => %{"suffix" => :erlang.binary_to_integer(s)}}
        {o, l, _} -> %{"range" => int_fields(%{"offset" => o, "length" => l})}
      end

    case R2.get(conn, "BUCKET", conn.params["key"], opts) do
      nil ->
        Conn.json(conn, 404, %{"found" => false})

      object ->
        conn
        |> Conn.put_header("content-type", :maps.get("content_type", object["http_metadata"], "application/octet-stream"))
        |> Conn.put_header("x-size", :erlang.integer_to_binary(object["size"]))
        |> Conn.put_header("x-etag", object["etag"])
        |> Conn.put_header("x-meta", JSON.encode(object["custom_metadata"]))
        |> Conn.put_header("x-range", JSON.encode(:maps.get("range", object, nil)))
        |> Conn.send_resp(200, object["body"])
    end
  end

  defp int_fields(map) do
    :maps.fold(
      fn
        _k, nil, acc -> acc
        k, v, acc -> :maps.put(k, :erlang.binary_to_integer(v), acc)
      end,
      %{},
      map
    )
  end

  def r2_put(conn) do
    type = Conn.get_header(conn, "content-type", "application/octet-stream")

    conn
    |> R2.put("BUCKET", conn.params["key"], conn.body, %{
      "http_metadata" => %{"content_type" => type},
      "custom_metadata" => %{"by" => "test-app"}
    })
    |> Conn.json(202, %{"stored" => conn.params["key"], "size" => byte_size(conn.body)})
  end

  def r2_delete(conn) do
    conn
    |> R2.delete("BUCKET", conn.params["key"])
    |> Conn.json(202, %{"deleted" => conn.params["key"]})
  end

  def r2_head(conn) do
    case R2.head(conn, "BUCKET", conn.params["key"]) do
      nil -> Conn.json(conn, 404, %{"found" => false})
      object -> Conn.json(conn, 200, object)
    end
  end

  def r2_list(conn) do
    opts = %{"prefix" => Conn.query(conn, "prefix", "")}
    opts = if Conn.query(conn, "limit"), do: :maps.put("limit", :erlang.binary_to_integer(Conn.query(conn, "limit")), opts), else: opts
    opts = if Conn.query(conn, "cursor"), do: :maps.put("cursor", Conn.query(conn, "cursor"), opts), else: opts
    opts = if Conn.query(conn, "delimiter"), do: :maps.put("delimiter", Conn.query(conn, "delimiter"), opts), else: opts
    Conn.json(conn, 200, R2.list(conn, "BUCKET", opts))
  end

  # The JSON body is sent as one message; ?bytes=1 sends the raw body as
  # bytes instead.
  def queue_send(conn) do
    conn =
      if Conn.query(conn, "bytes") == "1",
        do: Queue.send(conn, "JOBS", conn.body, %{"content_type" => "bytes"}),
        else: Queue.send(conn, "JOBS", conn.parsed_body)

    Conn.json(conn, 202, %{"queued" => 1})
  end

  # A JSON list: each element one message of one batch; strings go as text.
  def queue_batch(conn) do
    messages =
      :lists.map(
        fn
          text when is_binary(text) -> {text, %{"content_type" => "text"}}
          other -> other
        end,
        conn.parsed_body
      )

    conn
    |> Queue.send_batch("JOBS", messages)
    |> Conn.json(202, %{"queued" => length(messages)})
  end

  # Says whether an earlier request left anything behind for `tag` (an atom
  # it created, a process it registered and left running), then leaves both.
  # On the worker each request starts from the boot snapshot, so both are
  # always false there.
  def state(conn) do
    name = "ew_state_" <> conn.params["tag"]

    atom_existed =
      try do
        _ = :erlang.binary_to_existing_atom(name, :utf8)
        true
      catch
        :error, :badarg -> false
      end

    atom = :erlang.binary_to_atom(name, :utf8)
    registered = :erlang.whereis(atom) != :undefined

    if not registered do
      :erlang.register(atom, :erlang.spawn(fn -> receive do: (_ -> :ok) end))
    end

    Conn.json(conn, 200, %{"atom_existed" => atom_existed, "registered" => registered})
  end
end

defmodule TestApp.Events do
  @moduledoc false
  # The app's cron and queue handlers.
  alias ElixirWorkers.{JSON, KV, Queue}

  # Reads the last run's record (a read: one extra pass) and writes a new
  # one that says what it saw.
  def scheduled(conn) do
    last = KV.get(conn, "CACHE", "cron-last")
    event = conn.event

    record = %{
      "cron" => event["cron"],
      "scheduled_time" => event["scheduled_time"],
      "pass" => conn.pass,
      "previous" => last
    }

    if event["cron"] == "crash", do: raise("cron crash requested")
    KV.put(conn, "CACHE", "cron-last", JSON.encode(record))
  end

  # Each message is stored in KV under "queue-<id field of the body>" with
  # its attempt count; a body with "retry_once" is retried on its first
  # delivery. Text and byte bodies are stored under "queue-text" and
  # "queue-bytes" (bytes as hex).
  def queue(conn) do
    :lists.foldl(
      fn message, conn ->
        body = message["body"]

        cond do
          is_map(body) and body["retry_once"] == true and message["attempts"] == 1 ->
            Queue.retry(conn, message)

          is_map(body) ->
            value = JSON.encode(%{"attempts" => message["attempts"], "body" => body, "queue" => conn.event["queue"]})
            conn |> KV.put("CACHE", "queue-" <> body["id"], value) |> Queue.ack(message)

          is_binary(body) and message["attempts"] >= 1 ->
            key = if printable?(body), do: "queue-text", else: "queue-bytes"
            value = if printable?(body), do: body, else: hex(body)
            conn |> KV.put("CACHE", key, value) |> Queue.ack(message)
        end
      end,
      conn,
      Queue.messages(conn)
    )
  end

  defp printable?(<<c, rest::binary>>) when c >= 32 and c < 127, do: printable?(rest)
  defp printable?(<<>>), do: true
  defp printable?(_), do: false

  defp hex(<<b, rest::binary>>), do: <<digit(div(b, 16)), digit(rem(b, 16)), hex(rest)::binary>>
  defp hex(<<>>), do: <<>>
  defp digit(d) when d < 10, do: ?0 + d
  defp digit(d), do: ?a + d - 10
end

defmodule TestApp.Counter do
  @moduledoc false
  # A Durable Object: POST /increment adds one to the stored count and
  # answers the new count; GET / answers the count with the object's id and
  # name, as JSON.

  alias ElixirWorkers.{Conn, Storage}

  def fetch(%Conn{method: "POST", path: "/increment"} = conn) do
    # nil on the first pass (not read yet; that pass is discarded) and when
    # the object has never counted.
    n = (Storage.get(conn, "count") || 0) + 1
    conn |> Storage.put("count", n) |> Conn.text(200, :erlang.integer_to_binary(n))
  end

  def fetch(%Conn{method: "GET", path: "/"} = conn) do
    event = ElixirWorkers.DurableObject.current(conn)

    Conn.json(conn, 200, %{
      "count" => Storage.get(conn, "count") || 0,
      "id" => :maps.get("id", event),
      "name" => :maps.get("name", event),
      "class" => :maps.get("class", event)
    })
  end

  def fetch(conn), do: Conn.text(conn, 404, "no such counter route")
end

defmodule TestApp do
  @moduledoc false
  use ElixirWorkers.App,
    router: TestApp.Router,
    scheduled: TestApp.Events,
    queue: TestApp.Events,
    durable_objects: %{"Counter" => TestApp.Counter}
end
