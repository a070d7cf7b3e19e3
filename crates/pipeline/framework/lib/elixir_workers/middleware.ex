defmodule ElixirWorkers.Middleware do
  @moduledoc """
  Middleware: functions `conn -> conn` run before the route. A middleware
  that answers by itself calls `ElixirWorkers.Conn.halt/1`.

  The router runs `security_headers/1` and `parse_body/1` by default
  (`security_headers/2` when the router sets `csp:`); `cors/2` is opt-in:
  `plug &ElixirWorkers.Middleware.cors/2, %{"origin" => "https://example.com"}`.
  """

  alias ElixirWorkers.{Body, Conn}

  @security_headers [
    {"x-content-type-options", "nosniff"},
    {"x-frame-options", "DENY"},
    {"referrer-policy", "strict-origin-when-cross-origin"},
    {"strict-transport-security", "max-age=31536000; includeSubDomains"},
    {"permissions-policy", "geolocation=(), microphone=(), camera=()"}
  ]

  # The original framework sent a content-security-policy too. This default
  # is for the pages a worker renders itself: everything from the worker's
  # own origin; inline <style> and data: images stay allowed, as the
  # original allowed them, because small server-rendered pages use them and
  # they cannot run code; scripts only from the origin, never inline, so
  # markup injected through a missed escape cannot run. base-uri and
  # form-action are not covered by default-src: without them an injected
  # <base> or <form> could send links or submissions elsewhere.
  # frame-ancestors 'none' is x-frame-options DENY for current browsers.
  # Browsers apply CSP only to documents, so JSON answers lose nothing.
  @csp "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " <>
         "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

  @doc """
  Adds common security headers: nosniff, DENY framing, HSTS, referrer and
  permissions policies and a `content-security-policy` (#{inspect(@csp)}).
  A header the conn already has keeps its value.
  """
  def security_headers(%Conn{} = conn), do: put_security_headers(conn, @csp)

  @doc """
  `security_headers/1` with options: `"csp"` is the
  `content-security-policy` to send instead of the default, or `false` for
  none. The router passes its `csp:` option here.
  """
  def security_headers(%Conn{} = conn, opts) when is_map(opts),
    do: put_security_headers(conn, :maps.get("csp", opts, @csp))

  defp put_security_headers(%Conn{resp_headers: h} = conn, csp) do
    h = put_new_all(@security_headers, h)

    h =
      case csp do
        false ->
          h

        _ when is_binary(csp) ->
          put_new("content-security-policy", csp, h)

        _ ->
          :erlang.error(
            ElixirWorkers.Error.exception(
              ~s(security_headers/2: "csp" must be a binary or false, got: ) <> ElixirWorkers.Format.inspect(csp)
            )
          )
      end

    %{conn | resp_headers: h}
  end

  # Defaults only: a header set before this runs (by a plug, or a route of a
  # hand-built pipeline) is the app's choice.
  defp put_new_all([], h), do: h
  defp put_new_all([{k, v} | rest], h), do: put_new_all(rest, put_new(k, v, h))

  defp put_new(k, v, h) do
    case :maps.is_key(k, h) do
      true -> h
      false -> :maps.put(k, v, h)
    end
  end

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
