defmodule ElixirWorkers.Dispatch do
  @moduledoc """
  The run-time half of `ElixirWorkers.Router`: what a compiled router calls
  when no route matched (404, 405 with `allow`, `HEAD` served by the `GET`
  route) and the check that a route returned a conn.

  Kept apart from `ElixirWorkers.Router`, whose macros need `Enum` and
  friends at compile time, so that a worker's `app.avm` carries only this.
  """

  alias ElixirWorkers.{Conn, Format, URL}

  @doc false
  def dispatch(router, conn, :no_route) do
    allowed = allowed_methods(router.__routes__(), conn.path_segments, [])

    cond do
      conn.method == "HEAD" and :lists.member("GET", allowed) ->
        result = router.__ew_route__("GET", conn.path_segments, conn)
        check_result(router, result)

      allowed == [] ->
        router.not_found(conn)

      true ->
        router.method_not_allowed(conn, allowed)
    end
  end

  def dispatch(router, _conn, result), do: check_result(router, result)

  defp check_result(_router, %Conn{} = conn), do: conn

  defp check_result(router, other) do
    :erlang.error(
      ElixirWorkers.Error.exception(
        "a route of " <> Format.inspect(router) <> " returned " <> Format.inspect(other) <> " instead of a conn"
      )
    )
  end

  defp allowed_methods([], _segments, acc), do: :lists.reverse(acc)

  defp allowed_methods([{method, pattern} | rest], segments, acc) do
    case URL.match_segments(segments, pattern) do
      {:ok, _} ->
        if method == "*" or :lists.member(method, acc),
          do: allowed_methods(rest, segments, acc),
          else: allowed_methods(rest, segments, [method | acc])

      :no_match ->
        allowed_methods(rest, segments, acc)
    end
  end

  @doc "The methods of an `allow` header: `\"GET, PUT\"`."
  def join_methods([]), do: ""
  def join_methods([m]), do: m
  def join_methods([m | rest]), do: m <> ", " <> join_methods(rest)
end
