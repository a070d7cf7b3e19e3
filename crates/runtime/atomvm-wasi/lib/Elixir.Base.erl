%% Elixir.Base -- a drop-in replacement for Elixir 1.14's `Base' module,
%% written in plain Erlang for AtomVM.
%%
%% Why: AtomVM only supports bitstrings made of whole bytes.  Elixir's own
%% Base builds and matches 5- and 6-bit segments (`<<x::6>>',
%% `<<acc::bitstring, ...>>'), which raise `unsupported' there, so every
%% base32/base64 decoder fails.  This module is packed in its place.
%%
%% Design
%% ------
%% * Only whole-byte binary operations are used: `<<C, Rest/binary>>'
%%   matches, `<<Part:N/binary, Rest/binary>>' splits, binary:at/2 and
%%   binary:part/3.  Groups of characters are combined into integers with
%%   bsl/bor (base64: 4 chars -> 24 bits; base32: 8 chars -> two 20-bit
%%   halves, so every intermediate value stays a small integer even on a
%%   32-bit VM), and the bytes are emitted as a list.
%% * Long inputs are processed in blocks (?ENC_BLOCK input bytes per block
%%   for encoders, ?DEC_BLOCK characters for decoders); each block becomes
%%   one binary via list_to_binary/1 and the blocks are joined at the end
%%   with iolist_to_binary/1.  Everything is tail recursive and linear.
%% * Encoding uses the alphabet as a binary indexed with binary:at/2;
%%   decoding computes a character's value from the alphabet's ranges
%%   (hex_value/2, base32_value/1, base64_value/2): no lookup tables.
%% * One encoder and one decoder serve every base: a base brings only how
%%   a group of bytes becomes characters (encXX_groups/3) and a group of
%%   character values becomes bytes (joinXX/2), and for decoding its
%%   layout (?BASE32, ?BASE64).
%%
%% Compatibility with Elixir 1.14.0's Base (checked by
%% test/base_diff.exs against the real module):
%% * Same results for every input and option: `{ok, Bin}' / `error' for
%%   decodeXX/1,2, the decoded binary or an `ArgumentError' exception
%%   struct with the same message for the `!' variants:
%%     "non-alphabet character found: \"%\" (byte 37)" (the character is
%%       shown the way Kernel.inspect/2 shows a one-byte binary),
%%     "incorrect padding",
%%     "string given to decode has wrong length. An even number of bytes
%%       was expected, got: N. Double check ..." (base16 only).
%% * Same error precedence: base32/base64 input is split into a "main"
%%   part and a final group of 1..8 characters (main = the longest prefix
%%   made of whole 8-character groups that leaves at least one character).
%%   The main part is decoded first, left to right, so a bad character
%%   there wins over a bad final group.  The final group must then have
%%   one of the accepted shapes (otherwise "incorrect padding"), and its
%%   characters are decoded left to right.  `=' inside a group of an
%%   accepted shape is reported as a non-alphabet character.
%% * Unused bits of the last character (e.g. "Zm9=" or "Zh==") are
%%   ignored, as in Elixir.  Padded input is accepted with padding: false.
%%   Only `padding: false' switches padding off when decoding; any other
%%   value behaves like `true'.  When encoding, a padding value other
%%   than true/false raises FunctionClauseError from maybe_pad/3, but only
%%   when a partial final group needs it (as in Elixir).
%% * Option handling mirrors Elixir's: options are read with Keyword.get
%%   semantics (first occurrence wins, non-lists raise FunctionClauseError
%%   from Keyword.get/3), an unknown `case' raises CaseClauseError, an
%%   unknown `ignore' raises FunctionClauseError from remove_ignored/2.
%%   `ignore: :whitespace' (space, \t, \r, \n) exists only for decode64 and
%%   url_decode64; `case' is ignored by the base64 functions; decode16/32
%%   ignore unknown options.
%% * Non-binary data raises FunctionClauseError from the same function as
%%   in Elixir (decode16/2 and decode32/2 delegate to their `!' variant,
%%   which is the one that fails, exactly like Elixir's).
-module('Elixir.Base').

-export([encode16/1, encode16/2, decode16/1, decode16/2,
         'decode16!'/1, 'decode16!'/2,
         encode32/1, encode32/2, decode32/1, decode32/2,
         'decode32!'/1, 'decode32!'/2,
         hex_encode32/1, hex_encode32/2, hex_decode32/1, hex_decode32/2,
         'hex_decode32!'/1, 'hex_decode32!'/2,
         encode64/1, encode64/2, decode64/1, decode64/2,
         'decode64!'/1, 'decode64!'/2,
         url_encode64/1, url_encode64/2, url_decode64/1, url_decode64/2,
         'url_decode64!'/1, 'url_decode64!'/2,
         '__info__'/1]).

-compile({inline, [c/2]}).

%% Input bytes per encoded block (a multiple of 3 and of 5).
-define(ENC_BLOCK, 3000).
%% Characters per decoded block (a multiple of 8).
-define(DEC_BLOCK, 4096).

%% How base 32 and base 64 text is laid out: {characters a group, bits a
%% character, the lengths a final group's characters may have (in the order
%% Elixir tries them), the function from groups' values to bytes (see
%% dec_block/3)}.
-define(BASE32, {8, 5, [2, 4, 5, 7, 8], fun join32/2}).
-define(BASE64, {4, 6, [2, 3, 4, 6, 7, 8], fun join64/2}).

%%% ---------------------------------------------------------------------
%%% __info__/1 (normally generated by the Elixir compiler)
%%% ---------------------------------------------------------------------

'__info__'(module) -> 'Elixir.Base';
'__info__'(functions) ->
    [{decode16, 1}, {decode16, 2}, {'decode16!', 1}, {'decode16!', 2},
     {decode32, 1}, {decode32, 2}, {'decode32!', 1}, {'decode32!', 2},
     {decode64, 1}, {decode64, 2}, {'decode64!', 1}, {'decode64!', 2},
     {encode16, 1}, {encode16, 2}, {encode32, 1}, {encode32, 2},
     {encode64, 1}, {encode64, 2},
     {hex_decode32, 1}, {hex_decode32, 2},
     {'hex_decode32!', 1}, {'hex_decode32!', 2},
     {hex_encode32, 1}, {hex_encode32, 2},
     {url_decode64, 1}, {url_decode64, 2},
     {'url_decode64!', 1}, {'url_decode64!', 2},
     {url_encode64, 1}, {url_encode64, 2}];
'__info__'(macros) -> [];
'__info__'(deprecated) -> [];
'__info__'(struct) -> nil;
'__info__'(exports_md5) ->
    %% Same exports as Elixir 1.14's Base, hence the same digest.
    <<42, 168, 23, 236, 201, 206, 156, 72, 59, 66, 9, 189, 42, 149, 243, 113>>;
'__info__'(Key) when Key =:= attributes; Key =:= compile; Key =:= md5 ->
    module_info(Key).

%%% ---------------------------------------------------------------------
%%% Base 16
%%% ---------------------------------------------------------------------

encode16(Data) -> encode16(Data, []).

encode16(Data, Opts) when is_binary(Data) ->
    A = enc_case(Opts, <<"0123456789ABCDEF">>, <<"0123456789abcdef">>),
    encode(Data, 1, 4, fun(B, Acc) -> enc16_groups(B, A, Acc) end, true).

decode16(String) -> decode16(String, []).

decode16(String, Opts) ->
    ok_or_error(fun() -> 'decode16!'(String, Opts) end).

'decode16!'(String) -> 'decode16!'(String, []).

'decode16!'(String, Opts)
  when is_binary(String), byte_size(String) rem 2 =:= 0 ->
    V = hex_value(dec_case(Opts), 16),
    iolist_to_binary(blocks(String, ?DEC_BLOCK,
                            fun(B) -> dec_block(B, V, fun join16/2) end));
'decode16!'(String, _Opts) when is_binary(String) ->
    raise_argument(iolist_to_binary(
      [<<"string given to decode has wrong length. An even number of bytes "
         "was expected, got: ">>,
       integer_to_binary(byte_size(String)),
       <<". Double check your string for unwanted characters or pad it "
         "accordingly">>])).

%% A byte -> 2 characters, a group at a time, the characters last first.
enc16_groups(<<X, Rest/binary>>, A, Acc) ->
    enc16_groups(Rest, A, [c(A, X band 15), c(A, X bsr 4) | Acc]);
enc16_groups(<<>>, _A, Acc) ->
    Acc.

%% Pairs of 4-bit values -> one byte each (see dec_block/3).
join16([VY, VX | Rest], Acc) -> join16(Rest, [(VX bsl 4) bor VY | Acc]);
join16([], Acc) -> Acc.

%%% ---------------------------------------------------------------------
%%% Base 32 (standard and extended hex alphabets)
%%% ---------------------------------------------------------------------

encode32(Data) -> encode32(Data, []).

encode32(Data, Opts) when is_binary(Data) ->
    enc32(Data, Opts, <<"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567">>,
          <<"abcdefghijklmnopqrstuvwxyz234567">>).

hex_encode32(Data) -> hex_encode32(Data, []).

hex_encode32(Data, Opts) when is_binary(Data) ->
    enc32(Data, Opts, <<"0123456789ABCDEFGHIJKLMNOPQRSTUV">>,
          <<"0123456789abcdefghijklmnopqrstuv">>).

decode32(String) -> decode32(String, []).

decode32(String, Opts) ->
    ok_or_error(fun() -> 'decode32!'(String, Opts) end).

'decode32!'(String) -> 'decode32!'(String, []).

'decode32!'(String, Opts) when is_binary(String) ->
    dec32(String, Opts, fun base32_value/1).

hex_decode32(String) -> hex_decode32(String, []).

hex_decode32(String, Opts) ->
    ok_or_error(fun() -> 'hex_decode32!'(String, Opts) end).

'hex_decode32!'(String) -> 'hex_decode32!'(String, []).

'hex_decode32!'(String, Opts) when is_binary(String) ->
    dec32(String, Opts, fun(Case) -> hex_value(Case, 32) end).

%% The options in Elixir's order, `padding:' then `case:' (a bad option
%% list fails on the first lookup).
enc32(Data, Opts, Upper, Lower) ->
    Pad = kw_get(padding, Opts, true),
    A = enc_case(Opts, Upper, Lower),
    encode(Data, 5, 5, fun(B, Acc) -> enc32_groups(B, A, Acc) end, Pad).

%% Value(Case): the value of a character in the alphabet.
dec32(String, Opts, Value) ->
    Pad = kw_get(padding, Opts, true),
    V = Value(dec_case(Opts)),
    decode(String, V, Pad, ?BASE32).

%% 5 bytes -> 8 characters, a group at a time, the characters last first.
%% The 40 bits are handled as two 20-bit halves.
enc32_groups(<<X1, X2, X3, X4, X5, Rest/binary>>, A, Acc) ->
    H = (X1 bsl 12) bor (X2 bsl 4) bor (X3 bsr 4),
    L = ((X3 band 15) bsl 16) bor (X4 bsl 8) bor X5,
    enc32_groups(Rest, A, [c(A, L band 31), c(A, (L bsr 5) band 31),
                           c(A, (L bsr 10) band 31), c(A, L bsr 15),
                           c(A, H band 31), c(A, (H bsr 5) band 31),
                           c(A, (H bsr 10) band 31), c(A, H bsr 15) | Acc]);
enc32_groups(<<>>, _A, Acc) ->
    Acc.

%% Groups of eight 5-bit values -> five bytes each, two 20-bit halves (see
%% dec_block/3).
join32([V8, V7, V6, V5, V4, V3, V2, V1 | Rest], Acc) ->
    H = (V1 bsl 15) bor (V2 bsl 10) bor (V3 bsl 5) bor V4,
    L = (V5 bsl 15) bor (V6 bsl 10) bor (V7 bsl 5) bor V8,
    join32(Rest, [H bsr 12, (H bsr 4) band 255,
                  ((H band 15) bsl 4) bor (L bsr 16), (L bsr 8) band 255,
                  L band 255 | Acc]);
join32([], Acc) ->
    Acc.

%%% ---------------------------------------------------------------------
%%% Base 64 (standard and URL-safe alphabets)
%%% ---------------------------------------------------------------------

encode64(Data) -> encode64(Data, []).

encode64(Data, Opts) when is_binary(Data) ->
    enc64(Data, Opts, <<"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789+/">>).

url_encode64(Data) -> url_encode64(Data, []).

url_encode64(Data, Opts) when is_binary(Data) ->
    enc64(Data, Opts, <<"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789-_">>).

decode64(String) -> decode64(String, []).

decode64(String, Opts) when is_binary(String) ->
    ok_or_error(fun() -> 'decode64!'(String, Opts) end).

'decode64!'(String) -> 'decode64!'(String, []).

'decode64!'(String, Opts) when is_binary(String) ->
    dec64(String, Opts, $+, $/).

url_decode64(String) -> url_decode64(String, []).

url_decode64(String, Opts) when is_binary(String) ->
    ok_or_error(fun() -> 'url_decode64!'(String, Opts) end).

'url_decode64!'(String) -> 'url_decode64!'(String, []).

'url_decode64!'(String, Opts) when is_binary(String) ->
    dec64(String, Opts, $-, $_).

enc64(Data, Opts, A) ->
    Pad = kw_get(padding, Opts, true),
    encode(Data, 3, 6, fun(B, Acc) -> enc64_groups(B, A, Acc) end, Pad).

%% C62 and C63: the alphabet's last two characters.
dec64(String, Opts, C62, C63) ->
    Pad = kw_get(padding, Opts, true),
    Ignore = access_get(ignore, Opts),
    decode(remove_ignored(String, Ignore), base64_value(C62, C63), Pad,
           ?BASE64).

%% 3 bytes -> 24-bit integer -> 4 characters, a group at a time, the
%% characters last first.
enc64_groups(<<X, Y, Z, Rest/binary>>, A, Acc) ->
    N = (X bsl 16) bor (Y bsl 8) bor Z,
    enc64_groups(Rest, A, [c(A, N band 63), c(A, (N bsr 6) band 63),
                           c(A, (N bsr 12) band 63), c(A, N bsr 18) | Acc]);
enc64_groups(<<>>, _A, Acc) ->
    Acc.

%% Groups of four 6-bit values -> three bytes each (see dec_block/3).
join64([V4, V3, V2, V1 | Rest], Acc) ->
    N = (V1 bsl 18) bor (V2 bsl 12) bor (V3 bsl 6) bor V4,
    join64(Rest, [N bsr 16, (N bsr 8) band 255, N band 255 | Acc]);
join64([], Acc) ->
    Acc.

remove_ignored(String, nil) -> String;
remove_ignored(String, whitespace) -> strip_whitespace(String).

%% Drop " \t\r\n": collect the runs between them as sub-binaries.
strip_whitespace(String) ->
    strip_whitespace(String, 0, 0, byte_size(String), []).

strip_whitespace(S, I, Start, Size, Acc) when I < Size ->
    case binary:at(S, I) of
        C when C =:= $\s; C =:= $\t; C =:= $\r; C =:= $\n ->
            strip_whitespace(S, I + 1, I + 1, Size,
                             [binary:part(S, Start, I - Start) | Acc]);
        _ ->
            strip_whitespace(S, I + 1, Start, Size, Acc)
    end;
strip_whitespace(S, _I, 0, _Size, []) ->
    S;
strip_whitespace(S, _I, Start, Size, Acc) ->
    iolist_to_binary(lists:reverse([binary:part(S, Start, Size - Start)
                                    | Acc])).

%%% ---------------------------------------------------------------------
%%% Helpers
%%% ---------------------------------------------------------------------

%% Same clauses as Elixir's private maybe_pad/3: anything but a boolean
%% raises FunctionClauseError.
maybe_pad(Body, true, N) -> [Body | lists:duplicate(N, $=)];
maybe_pad(Body, false, _N) -> Body.

%% Encodes Data: Groups(Bytes, Acc) puts the characters of Bytes, whole
%% groups of GroupBytes bytes, last first before Acc; a character holds
%% Bits bits.  A partial final group is zero-filled and keeps only the
%% characters that carry its bits, followed by `=' up to a whole group when
%% Pad says so.
encode(Data, GroupBytes, Bits, Groups, Pad) ->
    Full = byte_size(Data) - byte_size(Data) rem GroupBytes,
    <<Main:Full/binary, Tail/binary>> = Data,
    Body = blocks(Main, ?ENC_BLOCK,
                  fun(B) -> list_to_binary(lists:reverse(Groups(B, []))) end),
    case Tail of
        <<>> ->
            iolist_to_binary(Body);
        _ ->
            Fill = binary:copy(<<0>>, GroupBytes - byte_size(Tail)),
            Chars = lists:reverse(Groups(<<Tail/binary, Fill/binary>>, [])),
            N = (byte_size(Tail) * 8 + Bits - 1) div Bits,
            iolist_to_binary(maybe_pad([Body, lists:sublist(Chars, N)], Pad,
                                       length(Chars) - N))
    end.

%% Decodes base 32/64 String, V giving a character's value: its whole
%% 8-character groups first, left to right, so a bad character there wins
%% over a bad final group, then the final group.
decode(<<>>, _V, _Pad, _Layout) ->
    <<>>;
decode(String, V, Pad, {_, _, _, Join} = Layout) ->
    {Main, Last} = split_last_group(String),
    Body = blocks(Main, ?DEC_BLOCK, fun(B) -> dec_block(B, V, Join) end),
    Tail = dec_last(Last, V, Pad, Layout),
    iolist_to_binary([Body, Tail]).

%% Decodes Block, whole groups of characters.  Its characters' values come
%% last first, and Join(Values, Acc) turns them, a group at a time from the
%% last, into bytes put before Acc: so the bytes come out first first.
dec_block(Block, V, Join) ->
    list_to_binary(Join(rev_values(V, Block, []), [])).

%% The final group (1..8 characters) must be, for the first length Chars
%% of the layout's that fits, Chars characters followed by `=' up to a
%% whole group or, with padding: false, Chars characters alone; otherwise
%% the padding is incorrect.  Its characters are then decoded left to right
%% (an `=' among them is a non-alphabet character) and zero-filled to a
%% whole group; the bytes their bits fill are kept (unused low bits are
%% dropped, as in Elixir).
dec_last(Last, V, Pad, {Width, Bits, Lengths, Join}) ->
    Size = byte_size(Last),
    Padded = [N || N <- Lengths, Size =:= N + fill(N, Width),
                   binary:part(Last, N, Size - N)
                       =:= binary:copy(<<"=">>, Size - N)],
    Unpadded = [N || Pad =:= false, N <- Lengths, Size =:= N],
    case Padded ++ Unpadded of
        [Chars | _] ->
            Vs = rev_values(V, binary:part(Last, 0, Chars), []),
            Bytes = Join(lists:duplicate(fill(Chars, Width), 0) ++ Vs, []),
            lists:sublist(Bytes, Chars * Bits div 8);
        [] ->
            raise_argument(<<"incorrect padding">>)
    end.

%% How many characters N characters lack to whole groups of Width.
fill(N, Width) -> (Width - N rem Width) rem Width.

%% The values of the characters of a binary before Acc, last first; decoded
%% left to right, so the first bad one is reported (four at a time where
%% four are left: one match instead of four).
rev_values(V, <<C1, C2, C3, C4, Rest/binary>>, Acc) ->
    V1 = V(C1), V2 = V(C2), V3 = V(C3), V4 = V(C4),
    rev_values(V, Rest, [V4, V3, V2, V1 | Acc]);
rev_values(V, <<C, Rest/binary>>, Acc) ->
    rev_values(V, Rest, [V(C) | Acc]);
rev_values(_V, <<>>, Acc) ->
    Acc.

%% The `case:' option (upper by default): the encoders' alphabet for it,
%% the decoders' case.  Another case raises CaseClauseError, as in Elixir.
enc_case(Opts, Upper, Lower) ->
    case kw_get('case', Opts, upper) of
        upper -> Upper;
        lower -> Lower
    end.

dec_case(Opts) ->
    case kw_get('case', Opts, upper) of
        Case when Case =:= upper; Case =:= lower; Case =:= mixed -> Case
    end.

%% Split String (non-empty) into whole 8-character groups and a final
%% group of 1..8 characters.
split_last_group(String) ->
    Size = byte_size(String),
    MainSize = ((Size + 7) div 8 - 1) * 8,
    <<Main:MainSize/binary, Last/binary>> = String,
    {Main, Last}.

%% Apply Fun to consecutive Size-byte pieces of Bin (the last one may be
%% shorter); returns the list of results in order.
blocks(Bin, Size, Fun) ->
    blocks(Bin, Size, Fun, []).

blocks(Bin, Size, Fun, Acc) when byte_size(Bin) > Size ->
    <<Piece:Size/binary, Rest/binary>> = Bin,
    blocks(Rest, Size, Fun, [Fun(Piece) | Acc]);
blocks(<<>>, _Size, _Fun, Acc) ->
    lists:reverse(Acc);
blocks(Bin, _Size, Fun, Acc) ->
    lists:reverse([Fun(Bin) | Acc]).

%% Alphabet character for a value.
c(Alphabet, I) -> binary:at(Alphabet, I).

%% The value of a character in an alphabet, or ArgumentError.  Letters
%% count in the case picked (mixed: in both); no byte outside the alphabet
%% has a value.
-define(IN(C, First, Last), C >= First, C =< Last).

%% Digits, then letters: base 16 and the extended hex base 32.
hex_value(Case, Base) ->
    fun(C) when ?IN(C, $0, $9) -> C - $0;
       (C) when ?IN(C, $A, $A + Base - 11), Case =/= lower -> C - $A + 10;
       (C) when ?IN(C, $a, $a + Base - 11), Case =/= upper -> C - $a + 10;
       (C) -> bad_char(C)
    end.

%% Letters, then the digits 2 to 7.
base32_value(Case) ->
    fun(C) when ?IN(C, $A, $Z), Case =/= lower -> C - $A;
       (C) when ?IN(C, $a, $z), Case =/= upper -> C - $a;
       (C) when ?IN(C, $2, $7) -> C - $2 + 26;
       (C) -> bad_char(C)
    end.

%% Upper case, lower case, digits, then C62 and C63.
base64_value(C62, C63) ->
    fun(C) when ?IN(C, $A, $Z) -> C - $A;
       (C) when ?IN(C, $a, $z) -> C - $a + 26;
       (C) when ?IN(C, $0, $9) -> C - $0 + 52;
       (C) when C =:= C62 -> 62;
       (C) when C =:= C63 -> 63;
       (C) -> bad_char(C)
    end.

bad_char(C) ->
    raise_argument(iolist_to_binary(
                     [<<"non-alphabet character found: \"">>, escape(C),
                      <<"\" (byte ">>, integer_to_binary(C), <<")">>])).

%% How Kernel.inspect/2 shows the byte inside a one-byte string.
escape(0) -> <<"\\0">>;
escape(7) -> <<"\\a">>;
escape(8) -> <<"\\b">>;
escape(9) -> <<"\\t">>;
escape(10) -> <<"\\n">>;
escape(11) -> <<"\\v">>;
escape(12) -> <<"\\f">>;
escape(13) -> <<"\\r">>;
escape(27) -> <<"\\e">>;
escape($") -> <<"\\\"">>;
escape($\\) -> <<"\\\\">>;
escape(127) -> <<"\\d">>;
escape(C) when C >= 32, C =< 126 -> [C];
escape(C) ->
    Hex = <<"0123456789ABCDEF">>,
    [$\\, $x, binary:at(Hex, C bsr 4), binary:at(Hex, C band 15)].

raise_argument(Message) ->
    erlang:error('Elixir.ArgumentError':exception(Message)).

%% Keyword.get/3: the first {Key, Value} wins; a non-list raises
%% FunctionClauseError from Keyword.get/3 itself (like in Elixir), other
%% malformed entries raise CaseClauseError or badarg like Keyword.get.
kw_get(Key, Opts, Default) when is_list(Opts) ->
    case lists:keyfind(Key, 1, Opts) of
        {Key, Value} -> Value;
        false -> Default
    end;
kw_get(Key, Opts, Default) ->
    'Elixir.Keyword':get(Opts, Key, Default).

%% Access.get/2 on a keyword list (opts[:key]).
access_get(Key, Opts) ->
    case lists:keyfind(Key, 1, Opts) of
        {_, Value} -> Value;
        false -> nil
    end.

%% {ok, F()}, or error where Elixir's non-raising variants give it: on what
%% `rescue ArgumentError' catches.
ok_or_error(F) ->
    try {ok, F()}
    catch
        error:#{'__struct__' := 'Elixir.ArgumentError'} -> error;
        error:badarg -> error;
        error:{badarg, _} -> error
    end.
