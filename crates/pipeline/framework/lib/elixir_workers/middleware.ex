defmodule ElixirWorkers.Middleware do
  @moduledoc """
  Middleware: functions `conn -> conn` run before the route. A middleware
  that answers by itself calls `ElixirWorkers.Conn.halt/1`.

  The router runs `security_headers/1` and `parse_body/1` by default; `cors/2`
  is opt-in: `plug &ElixirWorkers.Middleware.cors/2, %{"origin" => "https://example.com"}`.
  """

  alias ElixirWorkers.{Body, Conn}

  @security_headers [
    {"x-content-type-options", "nosniff"},
    {"x-frame-options", "DENY"},
    {"referrer-policy", "strict-origin-when-cross-origin"},
    {"strict-transport-security", "max-age=31536000; includeSubDomains"},
    {"permissions-policy", "geolocation=(), microphone=(), camera=()"}
  ]

  @doc "Adds common security headers (nosniff, DENY framing, HSTS, referrer and permissions policies)."
  def security_headers(%Conn{resp_headers: h} = conn) do
    %{conn | resp_headers: put_all(@security_headers, h)}
  end

  defp put_all([], h), do: h
  defp put_all([{k, v} | rest], h), do: put_all(rest, :maps.put(k, v, h))

  @doc """
  Parses JSON and form bodies into `conn.parsed_body`. An invalid JSON body
  answers 400 `{"error": "invalid_json", "message": ...}` and halts.
  """
  def parse_body(%Conn{} = conn) do
    case Body.parse(conn) do
      :none ->
        conn

      {:ok, value} ->
        %{conn | parsed_body: value}

      {:error, message} ->
        conn
        |> Conn.json(400, %{"error" => "invalid_json", "message" => message})
        |> Conn.halt()
    end
  end

  @doc """
  CORS. Options (all binaries): `"origin"` (default `"*"`), `"methods"`,
  `"headers"`, `"max_age"`. A preflight (`OPTIONS` with
  `access-control-request-method`) answers 204 and halts.
  """
  def cors(conn, opts \\ %{}) do
    origin = :maps.get("origin", opts, "*")

    conn =
      conn
      |> Conn.put_header("access-control-allow-origin", origin)
      |> vary_origin(origin)

    if conn.method == "OPTIONS" and :maps.is_key("access-control-request-method", conn.headers) do
      conn
      |> Conn.put_header(
        "access-control-allow-methods",
        :maps.get("methods", opts, "GET, POST, PUT, PATCH, DELETE, OPTIONS")
      )
      |> Conn.put_header(
        "access-control-allow-headers",
        :maps.get("headers", opts, "content-type, authorization")
      )
      |> Conn.put_header("access-control-max-age", :maps.get("max_age", opts, "86400"))
      |> Conn.send_resp(204, "")
      |> Conn.halt()
    else
      conn
    end
  end

  defp vary_origin(conn, "*"), do: conn
  defp vary_origin(conn, _origin), do: Conn.put_header(conn, "vary", "origin")

  @doc "Runs a list of middleware functions, stopping when one halts."
  def run(conn, []), do: conn
  def run(%Conn{halted: true} = conn, _rest), do: conn
  def run(conn, [fun | rest]), do: run(fun.(conn), rest)
end
