# The runner of `elixir-workers test`: loads the project's ExUnit tests and
# runs them, with the app's beams (_build/ebin) and the framework's
# (_build/framework) on the code path. Arguments: test files or directories
# (a file may end in :LINE), then ExUnit options as `mix test` spells them.
# Exits 0 when every test passed, 1 when one failed, 2 when a test file could
# not be loaded.

{opts, paths} =
  OptionParser.parse!(System.argv(),
    strict: [
      seed: :integer,
      trace: :boolean,
      only: :keep,
      include: :keep,
      exclude: :keep,
      max_failures: :integer,
      timeout: :integer
    ]
  )

tag = fn text ->
  case String.split(text, ":", parts: 2) do
    [key, value] -> {String.to_atom(key), value}
    [key] -> String.to_atom(key)
  end
end

tags = fn key -> for {^key, text} <- opts, do: tag.(text) end

{files, lines} =
  paths
  |> Enum.map(fn path ->
    case Regex.run(~r/^(.*):(\d+)$/, path) do
      [_, file, line] -> {file, line}
      nil -> {path, nil}
    end
  end)
  |> Enum.flat_map(fn {path, line} ->
    cond do
      File.dir?(path) -> for f <- Path.wildcard(Path.join(path, "**/*_test.exs")), do: {f, nil}
      File.regular?(path) -> [{path, line}]
      true ->
        IO.puts(:stderr, "error: #{path} is neither a test file nor a directory")
        System.halt(2)
    end
  end)
  |> Enum.unzip()

files = if paths == [], do: Path.wildcard("test/**/*_test.exs"), else: files
lines = for line <- lines, line != nil, do: {:line, line}

include = tags.(:include) ++ tags.(:only) ++ lines
exclude = tags.(:exclude) ++ if(tags.(:only) ++ lines == [], do: [], else: [:test])

config =
  [autorun: false, include: include, exclude: exclude]
  |> Keyword.merge(Keyword.take(opts, [:seed, :trace, :max_failures, :timeout]))

# autorun: false first, so that a test_helper.exs or a test file that calls
# ExUnit.start() again does not run the suite a second time at exit.
ExUnit.start(config)

load = fn file ->
  try do
    Code.require_file(file)
  rescue
    error ->
      IO.puts(:stderr, "error: #{file} could not be loaded: " <> Exception.format_banner(:error, error, __STACKTRACE__))
      System.halt(2)
  end
end

if File.regular?("test/test_helper.exs"), do: load.("test/test_helper.exs")

# The helper may have started ExUnit with options of its own: keep its tag
# filters, add the command line's, and keep autorun off.
current = ExUnit.configuration()

ExUnit.configure(
  Keyword.merge(config,
    autorun: false,
    include: Keyword.get(current, :include, []) ++ include,
    exclude: Enum.uniq(Keyword.get(current, :exclude, []) ++ exclude)
  )
)

Enum.each(Enum.sort(Enum.uniq(files)), load)

%{failures: failures} = ExUnit.run()
System.halt(if failures == 0, do: 0, else: 1)
