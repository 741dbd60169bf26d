using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Harden.Resources;

[JsonConverter(typeof(JsonStringEnumConverter<ChangeAction>))]
public enum ChangeAction { NoOp, Create, Update, Delete }

/// <summary>
/// The observable properties of a resource as text (a file's sha256, mode, owner; a service's state;
/// a key's value). Null means absent. Plans show before → after from these; journals keep them so
/// that restore can tell whether anyone changed the resource since the run.
/// </summary>
public static class State
{
    public static ImmutableSortedDictionary<string, string> Of(params (string Key, string Value)[] pairs) =>
        pairs.ToImmutableSortedDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    public static string? Get(this ImmutableSortedDictionary<string, string>? state, string key) =>
        state is not null && state.TryGetValue(key, out var v) ? v : null;

    /// <summary>"mode 0644 -> 0600, owner root -> alice": the properties that differ, for people.</summary>
    public static string Describe(ImmutableSortedDictionary<string, string>? before, ImmutableSortedDictionary<string, string>? after, params string[] hidden)
    {
        if (before is null || after is null) return "";
        var parts = after.Where(kv => !hidden.Contains(kv.Key) && before.Get(kv.Key) is { } b && b != kv.Value)
            .Select(kv => $"{kv.Key} {before[kv.Key]} -> {kv.Value}");
        return string.Join(", ", parts);
    }
}

/// <summary>
/// One resource's step in a plan: what it is now, what apply makes it, and why. The plan is a list of
/// these; views pick <c>+ ~ - =</c> from <see cref="Action"/>. <see cref="Reason"/> is for people only.
/// A <see cref="Sensitive"/> change carries digests, never content, so a saved plan cannot leak it.
/// </summary>
public sealed record Change(
    Address Address,
    string Module,
    ChangeAction Action,
    ImmutableSortedDictionary<string, string>? Before,
    ImmutableSortedDictionary<string, string>? After,
    string Reason,
    string Diff = "",
    bool Sensitive = false)
{
    /// <summary>The resource that planned this change and applies it; absent in a plan read back from JSON.</summary>
    [JsonIgnore]
    public IResource? Resource { get; init; }

    [JsonIgnore]
    public bool IsChange => Action != ChangeAction.NoOp;

    /// <summary>The same step with the same effect: what a saved plan must still agree on to be applied.</summary>
    public bool SameEffect(Change other) =>
        Address == other.Address && Action == other.Action && Same(Before, other.Before) && Same(After, other.After);

    private static bool Same(ImmutableSortedDictionary<string, string>? a, ImmutableSortedDictionary<string, string>? b) =>
        a is null ? b is null : b is not null && a.Count == b.Count && a.All(kv => b.Get(kv.Key) == kv.Value);
}
