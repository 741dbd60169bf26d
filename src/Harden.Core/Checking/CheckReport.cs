using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Harden.Checking;

[JsonConverter(typeof(JsonStringEnumConverter<ControlStatus>))]
public enum ControlStatus
{
    [JsonStringEnumMemberName("pass")] Pass,
    [JsonStringEnumMemberName("fail")] Fail,
    [JsonStringEnumMemberName("not-applicable")] NotApplicable,
    [JsonStringEnumMemberName("manual")] Manual,
}

public sealed record Citation(string Section, string Title);

/// <summary>One thing looked at for a control: what was checked, what was found, what was wanted.</summary>
/// <param name="Command">A command an auditor can run on the host to see the same (with the root's path when offline).</param>
public sealed record Finding(string Subject, bool Passed, string Found, string Wanted, string Command = "");

/// <summary>One control of a profile (a module, or a question an auditor asks that no tool can fix) and its evidence.</summary>
public sealed record Control(
    string Id,
    string Title,
    ImmutableArray<Citation> Citations,
    ControlStatus Status,
    string Summary,
    ImmutableArray<Finding> Findings);

public sealed record CheckCounts(int Pass, int Fail, int NotApplicable, int Manual);

/// <summary>
/// The result of <c>harden check</c>: every control of a profile on one host, with its evidence.
/// Its JSON form is described by docs/check.schema.json; fleets merge many of these.
/// </summary>
public sealed record CheckReport(
    int FormatVersion,
    string Tool,
    string Profile,
    string Host,
    string Root,
    bool Live,
    string Platform,
    DateTimeOffset Time,
    CheckCounts Counts,
    ImmutableArray<Control> Controls)
{
    public const int CurrentFormatVersion = 1;

    /// <summary>Everything applicable passes: no control failed (manual ones are for people, not failures).</summary>
    [JsonIgnore]
    public bool Passed => Counts.Fail == 0;

    public static CheckCounts CountOf(IEnumerable<Control> controls)
    {
        var list = controls.ToList();
        return new(list.Count(c => c.Status == ControlStatus.Pass), list.Count(c => c.Status == ControlStatus.Fail),
            list.Count(c => c.Status == ControlStatus.NotApplicable), list.Count(c => c.Status == ControlStatus.Manual));
    }
}
