defmodule ElixirWorkers.Error do
  @moduledoc """
  The exception the framework raises: invalid JSON given to
  `ElixirWorkers.JSON.decode!/1`, a term JSON cannot encode, a failed binding
  read, a route that returned something other than a conn.

      try do
        JSON.decode!(text)
      rescue
        e in ElixirWorkers.Error -> e.message
      end

  Written without `defexception`: the code `defexception` and `defstruct`
  generate calls `Enum` and `Kernel`, which would bring a large part of the
  Elixir standard library into every `app.avm`.
  """

  defstruct message: "", __exception__: true

  # defstruct's __struct__/1 folds the fields with Enum; this one does not.
  defoverridable __struct__: 1

  @doc false
  def __struct__(fields) do
    :lists.foldl(fn {k, v}, acc -> :maps.update(k, v, acc) end, __struct__(), fields)
  end

  @doc "The exception for `message` (a binary) or `message: text`."
  def exception(message) when is_binary(message), do: %ElixirWorkers.Error{message: message}

  def exception(fields) when is_list(fields) do
    case :lists.keyfind(:message, 1, fields) do
      {:message, message} when is_binary(message) -> %ElixirWorkers.Error{message: message}
      _ -> %ElixirWorkers.Error{message: "elixir-workers error"}
    end
  end

  @doc "The message."
  def message(%ElixirWorkers.Error{message: message}), do: message
end
