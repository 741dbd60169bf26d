using Harden.Planning;

namespace Harden.Execution;

/// <summary>One managed sshd setting as sshd itself reports it (<c>sshd -T</c>), globally or for one Match connection.</summary>
public sealed record SshdSetting(string Key, string Wanted, string? Effective, string? Connection)
{
    public bool Satisfied => Effective is { } actual && SshdConfig.Satisfies(Key, Wanted, actual);

    public string Describe() =>
        $"{Key}: wanted '{Wanted}', effective '{Effective ?? "(not reported)"}'" + (Connection is null ? "" : $" for connections matching {Connection}");
}

/// <summary>
/// Reads the effective sshd configuration, globally and once per Match block's connection
/// (<c>sshd -T -C</c>), for every setting the plan expects: apply verifies with it, check reports it.
/// </summary>
public static class SshdEffective
{
    public static async Task<IReadOnlyList<SshdSetting>> ReadAsync(ICommandRunner runner, Plan plan, CancellationToken ct)
    {
        var expected = plan.Expected.Where(e => e.Source == Planner.SshdValidator).ToList();
        var settings = new List<SshdSetting>();
        if (expected.Count == 0) return settings;
        foreach (var connection in plan.SshdConnections.Prepend(null))
        {
            string[] argv = connection is null ? ["sshd", "-T"] : ["sshd", "-T", "-C", connection];
            var result = await runner.RunAsync(argv, ct);
            if (!result.Succeeded)
                throw new HardenException($"{string.Join(' ', argv)} failed (exit {result.ExitCode}): {result.Message}");
            var effective = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(' ', 2))
                .GroupBy(p => p[0].ToLowerInvariant())
                .ToDictionary(g => g.Key, g => string.Join(' ', g.Select(p => p.Length > 1 ? p[1] : "")));
            settings.AddRange(expected.Select(e => new SshdSetting(e.Key, e.Value, effective.GetValueOrDefault(e.Key), connection)));
        }
        return settings;
    }
}
