# Copied into every conformance project by `cargo xtask conformance`: runs one
# doctest on the runtime and answers a map the router sends back as JSON.
#
#   %{"status" => "pass"}
#   %{"status" => "fail", "cause" => "wrong" | "raised" | "no_raise" | "report",
#     "kind" => "error" | "throw" | "exit", "exception" => "KeyError",
#     "frame" => "Enum.fetch!/2", "got" => "..."}
#
# A failing test must not take the report down with it: `inspect/1` itself
# needs what the runtime may lack, so the text of a failure comes from
# Conf.Show (erlang BIFs only) and every step that could raise is guarded.
defmodule Conf.Check do
  @moduledoc false

  def check(fun, expected) do
    outcome =
      try do
        {:value, fun.()}
      catch
        kind, reason -> {:caught, kind, reason, __STACKTRACE__}
      end

    try do
      verdict(outcome, expected)
    catch
      _, _ -> %{"status" => "fail", "cause" => "report"}
    end
  end

  defp verdict({:value, actual}, {:value, expected}) when actual === expected,
    do: %{"status" => "pass"}

  defp verdict({:value, actual}, {:value, _}),
    do: %{"status" => "fail", "cause" => "wrong", "got" => Conf.Show.term(actual)}

  defp verdict({:value, actual}, {:raise, _}),
    do: %{"status" => "fail", "cause" => "no_raise", "got" => Conf.Show.term(actual)}

  defp verdict({:caught, kind, reason, stack}, expected) do
    exception = exception(kind, reason, stack)

    case expected do
      {:raise, module} when exception == module ->
        %{"status" => "pass"}

      _ ->
        %{
          "status" => "fail",
          "cause" => "raised",
          "kind" => :erlang.atom_to_binary(kind, :utf8),
          "exception" => Conf.Show.module(exception),
          "frame" => frame(stack),
          "got" => Conf.Show.term(reason)
        }
    end
  end

  # The exception module a `rescue` would see; nil for throws and exits, or
  # when normalising itself fails.
  defp exception(:error, reason, stack) do
    try do
      Exception.normalize(:error, reason, stack).__struct__
    catch
      _, _ -> nil
    end
  end

  defp exception(_kind, _reason, _stack), do: nil

  # The innermost frame: where the error was raised (for an undefined
  # function on AtomVM, the caller of the missing function).
  defp frame([{m, f, a, _} | _]) when is_atom(m) and is_atom(f) do
    arity = if is_list(a), do: length(a), else: a

    Conf.Show.module(m) <>
      "." <> :erlang.atom_to_binary(f, :utf8) <> "/" <> :erlang.integer_to_binary(arity)
  end

  defp frame(_), do: nil
end
