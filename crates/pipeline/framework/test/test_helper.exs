ExUnit.start()

defmodule TestHelper do
  @moduledoc false
  import ExUnit.Assertions
  alias ElixirWorkers.{Conn, JSON}

  # Builds request bytes in the wire format of PROTOCOL.md. `blobs:` is the
  # blob area after the body (the head then says where the body ends);
  # `event:` makes it an event run (no method or url).
  def request(method, url, opts \\ []) do
    body = Keyword.get(opts, :body, "")
    blobs = Keyword.get(opts, :blobs, "")

    head =
      if(method, do: %{"method" => method, "url" => url}, else: %{})
      |> Map.put("id", Keyword.get(opts, :id, "req-1"))
      |> put_opt("headers", Keyword.get(opts, :headers))
      |> put_opt("bindings", Keyword.get(opts, :bindings))
      |> put_opt("env", Keyword.get(opts, :env))
      |> put_opt("pass", Keyword.get(opts, :pass))
      |> put_opt("event", Keyword.get(opts, :event))
      |> put_opt("body_size", if(blobs == "", do: nil, else: byte_size(body)))

    IO.iodata_to_binary([JSON.encode(head), ?\n, body, blobs])
  end

  defp put_opt(map, _k, nil), do: map
  defp put_opt(map, k, v), do: Map.put(map, k, v)

  # A Conn of a request without a body, as a router is called with it.
  def conn(method, url, headers \\ %{}) do
    Conn.from_request(%{"method" => method, "url" => url, "headers" => headers}, "")
  end

  # Asserts a response's headers: each of `expected` (name => value) has
  # that value, or is absent where the value is nil. Returns the conn.
  def assert_headers(conn, expected) do
    for {name, value} <- expected do
      got = Map.fetch(conn.resp_headers, name)

      assert got == if(value == nil, do: :error, else: {:ok, value}),
             "response header #{name}: #{inspect(got)}, expected #{inspect(value)}"
    end

    conn
  end

  # Runs an event (a cron trigger, a queue batch) through TestApp.
  def call_event(event, opts \\ []), do: call(nil, nil, Keyword.put(opts, :event, event))

  # Runs a request through TestApp and splits the answer into head and body.
  def call(method, url, opts \\ []) do
    out = IO.iodata_to_binary(TestApp.handle(request(method, url, opts)))
    [head, body] = :binary.split(out, "\n")
    {JSON.decode!(head), body}
  end
end
