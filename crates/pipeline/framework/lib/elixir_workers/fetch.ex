defmodule ElixirWorkers.Fetch do
  @moduledoc """
  Outbound HTTP: the worker's `fetch()` on behalf of the app.

      a = Fetch.get(conn, "https://api.example.com/a")
      b = Fetch.post(conn, "https://api.example.com/b", JSON.encode(%{"q" => 1}),
            %{"headers" => %{"content-type" => "application/json"}, "timeout_ms" => 2000})

      case {a, b} do
        {{:ok, %{"status" => 200, "body" => body}}, {:ok, _}} -> Conn.text(conn, 200, body)
        {{:error, %{"reason" => "timeout"}}, _} -> Conn.json(conn, 504, %{"error" => "upstream timed out"})
        _ -> Conn.json(conn, 502, %{"error" => "upstream failed"})
      end

  A fetch is a read (see `ElixirWorkers.Bindings`): it returns `nil` until
  the worker has made it, and the request runs again with the answer. Every
  fetch (and every other read) a pass asks for is made in parallel, so the
  two above cost one extra pass together. Ask for all of them before you
  look at any: a route that stops at the first `nil` only asks for the first.

  The answer is `{:ok, response}` with `"status"` (integer), `"headers"`
  (names in lower case; each value a string, but `"set-cookie"`, a list of
  strings), `"body"` (the bytes, as they came) and `"url"` (after
  redirects); or `{:error, %{"reason" => reason, "error" => message}}` where
  `reason` is `"timeout"` (no full answer within `"timeout_ms"`),
  `"subrequest_limit"` (the request already made as many fetches as the
  Workers plan allows: 50 by default, `"budget": {"subrequests": N}` in
  `elixir-workers.json` for a paid plan's), `"too_large"` (a body past what
  the worker hands to the VM), `"invalid"` (a URL or method `fetch()`
  refuses) or `"network"` (anything else: refused connection, DNS, TLS).
  An HTTP error status is not an error: it is a response.

  Options (a map): `"method"` (default `"GET"`), `"headers"` (a map of
  name => value), `"body"` (iodata, sent byte for byte), `"timeout_ms"` (for
  the whole exchange, body included; default 30000, 0 for none), `"redirect"`
  (`"follow"`, the default, or `"manual"`).
  """

  alias ElixirWorkers.{Bindings, Conn}

  @doc "`request/3` with method GET."
  def get(%Conn{} = conn, url, opts \\ %{}) when is_map(opts),
    do: request(conn, url, :maps.put("method", "GET", opts))

  @doc "`request/3` with method POST and `body`."
  def post(%Conn{} = conn, url, body, opts \\ %{}) when is_map(opts),
    do: request(conn, url, :maps.put("body", body, :maps.put("method", "POST", opts)))

  @doc """
  Makes the request: `nil` until it has been made, then `{:ok, response}`
  or `{:error, error}` (see the module doc).
  """
  def request(%Conn{} = conn, url, opts \\ %{}) when is_binary(url) and is_map(opts) do
    case Bindings.result(conn, need(url, opts)) do
      {:ok, %{"body" => range} = response} -> {:ok, :maps.put("body", Bindings.bytes(conn, range), response)}
      other -> other
    end
  end

  @doc """
  Like `request/3` but returns the response itself (`nil` until made) and
  raises an `ElixirWorkers.Error` naming the URL and the reason when the
  fetch failed.
  """
  def request!(%Conn{} = conn, url, opts \\ %{}) do
    case request(conn, url, opts) do
      nil ->
        nil

      {:ok, response} ->
        response

      {:error, error} ->
        :erlang.error(
          ElixirWorkers.Error.exception(
            "fetch " <> url <> " failed (" <> :maps.get("reason", error, "error") <> "): " <>
              :maps.get("error", error, "")
          )
        )
    end
  end

  defp need(url, opts) do
    need = %{"type" => "fetch", "url" => url, "method" => upcase(:maps.get("method", opts, "GET"))}

    need = Bindings.copy_headers(opts, need)

    need =
      case :maps.find("body", opts) do
        {:ok, nil} -> need
        {:ok, body} -> :maps.put("body_base64", Bindings.encode_bytes(body), need)
        :error -> need
      end

    Bindings.copy_opts(opts, ["timeout_ms", "redirect"], need)
  end

  # Methods go out in upper case, so that "get" and "GET" are one need.
  defp upcase(method) when is_binary(method), do: :erlang.list_to_binary(up(:erlang.binary_to_list(method)))
  defp upcase(method) when is_atom(method), do: upcase(:erlang.atom_to_binary(method, :utf8))

  defp up([c | rest]) when c >= ?a and c <= ?z, do: [c - 32 | up(rest)]
  defp up([c | rest]), do: [c | up(rest)]
  defp up([]), do: []
end
