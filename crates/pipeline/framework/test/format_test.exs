defmodule ElixirWorkers.FormatTest do
  use ExUnit.Case, async: true
  alias ElixirWorkers.{Error, Format}

  test "terms read as Elixir prints them" do
    for term <- [
          nil,
          true,
          :ok,
          Enum,
          42,
          -7,
          1.5,
          "plain",
          "quote \" and \\ and \n",
          <<1, 2, 255>>,
          [],
          [1, "two", :three],
          'abc',
          {:ok, {1, 2}},
          %{},
          %{a: 1},
          %{"k" => [1]},
          %Error{message: "m"}
        ] do
      assert Format.inspect(term) == inspect(term), "for #{inspect(term)}"
    end

    assert Format.inspect([1, 2 | 3]) == "[1, 2 | 3]"
    assert Format.inspect(self()) == inspect(self())
  end

  test "crash banners name the Elixir exception, then one line per stack entry" do
    stack = [{Foo, :bar, 1, [file: 'lib/foo.ex', line: 3]}, {Foo, :baz, [1, 2], []}]
    report = fn kind, reason -> IO.iodata_to_binary(Format.crash(kind, reason, stack)) end

    assert report.(:error, RuntimeError.exception("boom")) ==
             "** (RuntimeError) boom\n    Foo.bar/1 (lib/foo.ex:3)\n    Foo.baz/2\n"

    for {reason, banner} <- [
          {:badarith, "** (ArithmeticError) bad argument in arithmetic expression"},
          {{:badmatch, 3}, "** (MatchError) no match of right hand side value: 3"},
          {{:case_clause, "x"}, ~s[** (CaseClauseError) no case clause matching: "x"]},
          {:function_clause, "** (FunctionClauseError) no function clause matching in Foo.bar/1"},
          {:undef, "** (UndefinedFunctionError) function Foo.bar/1 is undefined or private"},
          {{:badkey, :k, %{}}, "** (KeyError) key :k not found in: %{}"},
          {:odd, "** (ErlangError) Erlang error: :odd"},
          {Error.exception("bad"), "** (ElixirWorkers.Error) bad"}
        ] do
      assert report.(:error, reason) =~ banner
    end

    assert report.(:throw, :thrown_value) =~ "** (throw) :thrown_value\n"
    assert report.(:exit, {:shutdown, 1}) =~ "** (exit) {:shutdown, 1}\n"
    assert Format.crash(:error, :badarg, :not_a_stack) |> IO.iodata_to_binary() == "** (ArgumentError) argument error\n"
  end

  test "the framework's exception works with raise and rescue" do
    assert_raise Error, "nope", fn -> raise Error, "nope" end
    assert %Error{message: "x"} = struct!(Error, message: "x")
    assert Exception.message(Error.exception(message: "y")) == "y"
  end
end
