defmodule ElixirWorkers.D1 do
  @moduledoc """
  D1 (SQLite) databases. `database` is the binding name from `wrangler.jsonc`
  (`d1_databases[].binding`); `params` bind to `?` placeholders in order.

  Queries go through `ElixirWorkers.Bindings` (they return `nil` until the
  result has been fetched). Statements that write (`exec/4`, `batch/3`) are
  effects run after the response.
  """

  alias ElixirWorkers.{Bindings, Conn}

  @doc "All rows of a query, as a list of maps (column => value); `nil` until fetched."
  def query(%Conn{} = conn, database, sql, params \\ [])
      when is_binary(database) and is_binary(sql) and is_list(params) do
    Bindings.fetch(conn, %{"type" => "d1_query", "db" => database, "sql" => sql, "params" => params})
  end

  @doc "The first row of a query, or `nil` (no rows, or not fetched yet)."
  def query_one(conn, database, sql, params \\ []) do
    case query(conn, database, sql, params) do
      [row | _] -> row
      _ -> nil
    end
  end

  @doc "Queues a write statement (INSERT/UPDATE/DELETE/DDL)."
  def exec(%Conn{} = conn, database, sql, params \\ [])
      when is_binary(database) and is_binary(sql) and is_list(params) do
    Conn.add_effect(conn, %{"type" => "d1_exec", "db" => database, "sql" => sql, "params" => params})
  end

  @doc """
  Queues statements to run as one D1 batch (a transaction):
  `[%{"sql" => ..., "params" => [...]}, ...]` or `[{sql, params}, ...]`.
  """
  def batch(%Conn{} = conn, database, statements) when is_binary(database) and is_list(statements) do
    stmts = :lists.map(&statement/1, statements)
    Conn.add_effect(conn, %{"type" => "d1_batch", "db" => database, "statements" => stmts})
  end

  defp statement({sql, params}) when is_binary(sql) and is_list(params),
    do: %{"sql" => sql, "params" => params}

  defp statement(%{"sql" => sql} = s) when is_binary(sql),
    do: %{"sql" => sql, "params" => :maps.get("params", s, [])}
end
