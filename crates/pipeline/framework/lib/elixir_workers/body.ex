defmodule ElixirWorkers.Body do
  @moduledoc """
  Request bodies. The body arrives as raw bytes (`conn.body`), so binary
  uploads survive byte for byte; these functions interpret it.
  """

  alias ElixirWorkers.{Conn, JSON, URL}

  @doc "The body as it came (a binary)."
  def text(%Conn{body: body}), do: body

  @doc "The body decoded as JSON: `{:ok, term}` or `{:error, message}`."
  def json(%Conn{body: body}), do: JSON.decode(body)

  @doc """
  The body decoded as JSON; on invalid JSON the request answers 400 with a
  JSON error (the route stops here).
  """
  def json!(%Conn{} = conn) do
    case json(conn) do
      {:ok, value} -> value
      {:error, message} -> throw({:elixir_workers_bad_request, "invalid_json", message})
    end
  end

  @doc "The body decoded as `application/x-www-form-urlencoded` (a map)."
  def form(%Conn{body: body}), do: URL.decode_query(body)

  @doc """
  Parses the body by its content type: JSON gives `{:ok, term}` or
  `{:error, message}`, a form gives `{:ok, map}`, an empty body or any other
  type gives `:none`.
  """
  def parse(%Conn{body: ""}), do: :none

  def parse(%Conn{} = conn) do
    ct = Conn.get_header(conn, "content-type", "")

    cond do
      prefix?(ct, "application/json") or json_suffix?(ct) -> json(conn)
      prefix?(ct, "application/x-www-form-urlencoded") -> {:ok, form(conn)}
      true -> :none
    end
  end

  defp prefix?(s, p) do
    n = byte_size(p)
    byte_size(s) >= n and :binary.part(s, 0, n) == p
  end

  # application/problem+json, application/vnd.api+json, ...
  defp json_suffix?(ct) do
    base =
      case :binary.split(ct, ";") do
        [b | _] -> b
      end

    n = byte_size(base)
    n >= 5 and :binary.part(base, n - 5, 5) == "+json"
  end
end
