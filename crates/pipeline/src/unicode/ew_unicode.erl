%% The three tables of OTP's unicode_util, read from compact binaries.
%%
%% OTP generates unicode_util with its Unicode tables as function clauses:
%% unicode_table/1 (canonical combining class and decompositions) has about
%% 6,700 clauses, each loading a literal, compose_pair/2 about 940 and
%% case_table/1 about 2,900. On AtomVM that is about 260 KB of code and
%% literals in an app's archive, reached by anything that normalises a
%% string (inspect/1 of an atom does). The build replaces the body of each
%% of those functions in unicode_util with a call to the function of the
%% same name here, and appends to this module the data functions below,
%% made from the user's own unicode_util (unicode_tables.exs), so that the
%% answers are the ones OTP's module gives, value for value.
%%
%% Every table is a binary of fixed-width entries sorted by key, searched by
%% bisection; code points take 24 bits.
%%   ccc()          <<CP:24, Class:8>>          non-zero combining classes
%%   canon()        <<CP:24, Offset:16>>        into canon_data()
%%   canon_data()   <<N:8, CP:24 * N>>          canonical decompositions
%%   compat()       <<CP:24, Offset:16>>        into compat_data()
%%   compat_data()  <<Tag:8, N:8, CP:24 * N>>   element Tag + 1 of compat_tags()
%%   compat_runs()  <<Start:24, Count:16, Tag:8, Target:24>>: Start + I
%%                  decomposes to Target + I for I < Count, the rest of the
%%                  compatibility decompositions (runs of single code points,
%%                  such as the mathematical alphanumerics)
%%   pairs()        <<A:24, B:24, C:24>>        compose_pair(A, B) = C
%%   cases2()       <<CP:24, U:24, L:24>>       case_table(CP) = {U, L}
%%   cases4()       <<CP:24, U:24, L:24, T:24, F:24>>
%%   cases_other()  <<CP:24, Offset:16>>        into cases_other_data(), the
%%                  answers with a list in them (İ lowercases to "i̇"), in
%%                  the external term format
%% A decomposition's elements are {Class, CP} in unicode_util; the class is
%% the one ccc() gives CP, which the generator checks.
-module(ew_unicode).
-export([unicode_table/1, compose_pair/2, case_table/1]).

unicode_table(CP) ->
    Canon =
        case search(CP, CanonIndex = canon(), 5) of
            none -> [];
            CanonAt -> decomposition(canon_data(), offset(CanonIndex, CanonAt))
        end,
    Compat =
        case search(CP, CompatIndex = compat(), 5) of
            none ->
                in_run(CP);
            CompatAt ->
                Data = compat_data(),
                Off = offset(CompatIndex, CompatAt),
                <<_:Off/binary, Tag:8, _/binary>> = Data,
                {element(Tag + 1, compat_tags()), decomposition(Data, Off + 1)}
        end,
    {class(CP), Canon, Compat}.

compose_pair(A, B) ->
    Pairs = pairs(),
    case search(A bsl 24 bor B, Pairs, 9, 48) of
        none ->
            false;
        At ->
            Skip = At * 9 + 6,
            <<_:Skip/binary, C:24, _/binary>> = Pairs,
            C
    end.

case_table(CP) ->
    Two = cases2(),
    case search(CP, Two, 9) of
        none ->
            Four = cases4(),
            case search(CP, Four, 15) of
                none ->
                    case search(CP, OtherIndex = cases_other(), 5) of
                        none ->
                            {CP, CP};
                        OtherAt ->
                            Data = cases_other_data(),
                            Off = offset(OtherIndex, OtherAt),
                            <<_:Off/binary, Size:16, Term:Size/binary, _/binary>> = Data,
                            binary_to_term(Term)
                    end;
                At ->
                    Skip = At * 15 + 3,
                    <<_:Skip/binary, U:24, L:24, T:24, F:24, _/binary>> = Four,
                    {U, L, T, F}
            end;
        At ->
            Skip = At * 9 + 3,
            <<_:Skip/binary, U:24, L:24, _/binary>> = Two,
            {U, L}
    end.

%% CP's compatibility decomposition from compat_runs(), or [].
in_run(CP) ->
    Runs = compat_runs(),
    case last_at_most(CP, Runs, 9, 0, byte_size(Runs) div 9) of
        0 ->
            [];
        Next ->
            Skip = (Next - 1) * 9,
            <<_:Skip/binary, Start:24, Count:16, Tag:8, Target:24, _/binary>> = Runs,
            if
                CP < Start + Count ->
                    T = Target + CP - Start,
                    {element(Tag + 1, compat_tags()), [{class(T), T}]};
                true ->
                    []
            end
    end.

class(CP) ->
    Ccc = ccc(),
    case search(CP, Ccc, 4) of
        none ->
            0;
        At ->
            Skip = At * 4 + 3,
            <<_:Skip/binary, Class:8, _/binary>> = Ccc,
            Class
    end.

%% The code points of the decomposition at Off of Data (its count first),
%% each with its combining class.
decomposition(Data, Off) ->
    <<_:Off/binary, N:8, Rest/binary>> = Data,
    Bytes = N * 3,
    <<CPs:Bytes/binary, _/binary>> = Rest,
    [{class(C), C} || <<C:24>> <= CPs].

offset(Index, At) ->
    Skip = At * 5 + 3,
    <<_:Skip/binary, Off:16, _/binary>> = Index,
    Off.

search(Key, Table, Width) ->
    search(Key, Table, Width, 24).

%% The index of the entry whose first KeyBits bits are Key, or none.
search(Key, Table, Width, KeyBits) ->
    bisect(Key, Table, Width, KeyBits, 0, byte_size(Table) div Width).

%% One past the index of the last entry whose 24-bit key is at most Key
%% (0: none is).
last_at_most(_Key, _Table, _Width, Lo, Hi) when Lo >= Hi ->
    Lo;
last_at_most(Key, Table, Width, Lo, Hi) ->
    Mid = (Lo + Hi) bsr 1,
    Skip = Mid * Width,
    <<_:Skip/binary, K:24, _/binary>> = Table,
    if
        K =< Key -> last_at_most(Key, Table, Width, Mid + 1, Hi);
        true -> last_at_most(Key, Table, Width, Lo, Mid)
    end.

bisect(_Key, _Table, _Width, _KeyBits, Lo, Hi) when Lo >= Hi ->
    none;
bisect(Key, Table, Width, KeyBits, Lo, Hi) ->
    Mid = (Lo + Hi) bsr 1,
    Skip = Mid * Width,
    <<_:Skip/binary, K:KeyBits, _/binary>> = Table,
    if
        K < Key -> bisect(Key, Table, Width, KeyBits, Mid + 1, Hi);
        K > Key -> bisect(Key, Table, Width, KeyBits, Lo, Mid);
        true -> Mid
    end.
