defmodule ElixirWorkers.Format do
  @moduledoc """
  Terms and crashes as text for the worker's logs, in Elixir's notation.

  `Kernel.inspect/1` and `Exception` would do this, but on AtomVM they bring
  `Enum`, the protocols, every exception struct and, through `Exception`'s
  atoms, the OTP supervision modules into `app.avm` (about 150 KB). This
  module uses only `:erlang`, `:lists` and `:maps`: it is what runs when a
  route crashes, so it must not crash itself.
  """

  import Kernel, except: [inspect: 1]

  @doc "A term as Elixir would print it (a binary; simplified: no width limit, no custom inspect)."
  def inspect(term), do: :erlang.iolist_to_binary(term(term))

  @doc """
  A crash report as iodata: the banner (`** (RuntimeError) boom`), a newline,
  then one line per stack entry (`    MyApp.Router.crash/1 (lib/my_app/router.ex:9)`).
  Erlang errors are named after the Elixir exception they stand for
  (`:badarith` -> `ArithmeticError`).
  """
  def crash(kind, reason, stack) do
    [banner(kind, reason, stack), ?\n, stack(stack)]
  end

  # --- banners ---------------------------------------------------------------

  defp banner(:error, %{__exception__: true, __struct__: mod} = e, _stack) when is_atom(mod) do
    ["** (", module(mod), ") ", message(mod, e)]
  end

  defp banner(:error, reason, stack) do
    {name, message} = erlang_error(reason, stack)
    ["** (", name, ") ", message]
  end

  defp banner(kind, reason, _stack) do
    ["** (", :erlang.atom_to_binary(kind, :utf8), ") ", inspect(reason)]
  end

  defp message(mod, e) do
    try do
      case mod.message(e) do
        m when is_binary(m) -> m
        _ -> field_message(e)
      end
    catch
      _, _ -> field_message(e)
    end
  end

  defp field_message(%{message: m}) when is_binary(m), do: m
  defp field_message(e), do: inspect(e)

  # The Elixir exception each Erlang error reason stands for, with its message.
  defp erlang_error(:badarith, _), do: {"ArithmeticError", "bad argument in arithmetic expression"}
  defp erlang_error(:badarg, _), do: {"ArgumentError", "argument error"}
  defp erlang_error(:system_limit, _), do: {"SystemLimitError", "a system limit has been reached"}
  defp erlang_error(:cond_clause, _), do: {"CondClauseError", "no cond clause evaluated to a truthy value"}
  defp erlang_error(:if_clause, _), do: {"CondClauseError", "no cond clause evaluated to a truthy value"}
  defp erlang_error({:badmatch, v}, _), do: {"MatchError", "no match of right hand side value: " <> inspect(v)}
  defp erlang_error({:case_clause, v}, _), do: {"CaseClauseError", "no case clause matching: " <> inspect(v)}
  defp erlang_error({:try_clause, v}, _), do: {"TryClauseError", "no try clause matching: " <> inspect(v)}
  defp erlang_error({:with_clause, v}, _), do: {"WithClauseError", "no with clause matching: " <> inspect(v)}
  defp erlang_error({:badkey, k}, _), do: {"KeyError", "key " <> inspect(k) <> " not found"}
  defp erlang_error({:badkey, k, t}, _), do: {"KeyError", "key " <> inspect(k) <> " not found in: " <> inspect(t)}
  defp erlang_error({:badmap, t}, _), do: {"BadMapError", "expected a map, got: " <> inspect(t)}
  defp erlang_error({:badfun, t}, _), do: {"BadFunctionError", "expected a function, got: " <> inspect(t)}

  defp erlang_error({:badarity, {f, args}}, _) when is_list(args),
    do: {"BadArityError", inspect(f) <> " called with " <> :erlang.integer_to_binary(length(args)) <> " arguments"}

  defp erlang_error(:function_clause, [{m, f, a, _} | _]),
    do: {"FunctionClauseError", "no function clause matching in " <> mfa(m, f, a)}

  defp erlang_error(:undef, [{m, f, a, _} | _]),
    do: {"UndefinedFunctionError", "function " <> mfa(m, f, a) <> " is undefined or private"}

  defp erlang_error(reason, _), do: {"ErlangError", "Erlang error: " <> inspect(reason)}

  defp mfa(m, f, a) when is_atom(m) and is_atom(f) do
    arity = if is_list(a), do: length(a), else: a
    :erlang.iolist_to_binary([module(m), ?., :erlang.atom_to_binary(f, :utf8), ?/, :erlang.integer_to_binary(arity)])
  end

  defp mfa(m, f, a), do: inspect({m, f, a})

  # --- stack traces ----------------------------------------------------------

  defp stack(stack) when is_list(stack), do: :lists.map(&entry/1, stack)
  defp stack(_), do: []

  defp entry({mod, fun, arity, loc}) when is_atom(mod) and is_atom(fun) do
    ["    ", mfa(mod, fun, arity), location(loc), ?\n]
  end

  defp entry(other), do: ["    ", inspect(other), ?\n]

  defp location(loc) when is_list(loc) do
    case {:lists.keyfind(:file, 1, loc), :lists.keyfind(:line, 1, loc)} do
      {{:file, f}, {:line, l}} when is_integer(l) -> [" (", f, ?:, :erlang.integer_to_binary(l), ?)]
      {{:file, f}, _} -> [" (", f, ?)]
      _ -> []
    end
  end

  defp location(_), do: []

  # --- terms -----------------------------------------------------------------

  defp term(nil), do: "nil"
  defp term(true), do: "true"
  defp term(false), do: "false"

  defp term(a) when is_atom(a) do
    case :erlang.atom_to_binary(a, :utf8) do
      "Elixir." <> name -> name
      name -> [?: | name]
    end
  end

  defp term(i) when is_integer(i), do: :erlang.integer_to_binary(i)
  defp term(f) when is_float(f), do: :erlang.float_to_binary(f, [{:decimals, 17}, :compact])

  defp term(b) when is_binary(b) do
    if printable?(b), do: [?", escape(b, []), ?"], else: ["<<", join(:erlang.binary_to_list(b)), ">>"]
  end

  defp term(b) when is_bitstring(b), do: ["#BitString<", :erlang.integer_to_binary(bit_size(b)), " bits>"]
  defp term([]), do: "[]"

  defp term(l) when is_list(l) do
    if charlist?(l), do: [?', l, ?'], else: [?[, list(l), ?]]
  end

  defp term(t) when is_tuple(t), do: [?{, join(:erlang.tuple_to_list(t)), ?}]

  defp term(%{__struct__: mod} = s) when is_atom(mod) do
    [?%, module(mod), ?{, pairs(:maps.to_list(:maps.remove(:__exception__, :maps.remove(:__struct__, s)))), ?}]
  end

  defp term(m) when is_map(m), do: ["%{", pairs(:maps.to_list(m)), ?}]
  defp term(p) when is_pid(p), do: ["#PID", :erlang.pid_to_list(p)]
  defp term(r) when is_reference(r), do: :erlang.ref_to_list(r)
  defp term(f) when is_function(f), do: :erlang.fun_to_list(f)
  defp term(p) when is_port(p), do: :erlang.port_to_list(p)
  defp term(_), do: "#Term<?>"

  defp join([]), do: []
  defp join([x]), do: term(x)
  defp join([x | rest]), do: [term(x), ", " | join(rest)]

  # A proper or improper list's elements.
  defp list([x]), do: term(x)
  defp list([x | rest]) when is_list(rest), do: [term(x), ", " | list(rest)]
  defp list([x | tail]), do: [term(x), " | ", term(tail)]

  defp pairs([]), do: []
  defp pairs([p]), do: pair(p)
  defp pairs([p | rest]), do: [pair(p), ", " | pairs(rest)]

  defp pair({k, v}) when is_atom(k) and k != nil and k != true and k != false,
    do: [:erlang.atom_to_binary(k, :utf8), ": ", term(v)]

  defp pair({k, v}), do: [term(k), " => ", term(v)]

  defp module(mod) do
    case :erlang.atom_to_binary(mod, :utf8) do
      "Elixir." <> name -> name
      name -> [?: | name]
    end
  end

  defp printable?(<<c::utf8, rest::binary>>) when c >= 0x20 or c == ?\n or c == ?\t or c == ?\r,
    do: printable?(rest)

  defp printable?(<<>>), do: true
  defp printable?(_), do: false

  defp escape(<<?", rest::binary>>, acc), do: escape(rest, [acc, ?\\, ?"])
  defp escape(<<?\\, rest::binary>>, acc), do: escape(rest, [acc, ?\\, ?\\])
  defp escape(<<?\n, rest::binary>>, acc), do: escape(rest, [acc, ?\\, ?n])
  defp escape(<<?\t, rest::binary>>, acc), do: escape(rest, [acc, ?\\, ?t])
  defp escape(<<?\r, rest::binary>>, acc), do: escape(rest, [acc, ?\\, ?r])
  defp escape(<<c, rest::binary>>, acc), do: escape(rest, [acc, c])
  defp escape(<<>>, acc), do: acc

  defp charlist?([c | rest]) when is_integer(c) and c >= 0x20 and c < 0x7F and c != ?', do: charlist?(rest)
  defp charlist?([]), do: true
  defp charlist?(_), do: false
end
