namespace Harden.Cli.Views;

/// <summary>
/// Colour for a person at a terminal: only when stdout is one, TERM is not "dumb" and NO_COLOR is
/// unset or empty (no-color.org). Colour only marks what a line already says (+ create, ~ update,
/// - remove, a failing control, a warning), so logs, pipes and scripts get the same words without it.
/// </summary>
public static class Terminal
{
    private const string Green = "\e[32m", Yellow = "\e[33m", Red = "\e[31m", Reset = "\e[0m";

    public static bool WantsColor(bool stdoutIsTerminal, Func<string, string?> environment) =>
        stdoutIsTerminal && string.IsNullOrEmpty(environment("NO_COLOR")) && environment("TERM") is not "dumb";

    /// <summary>Colours each line of <paramref name="text"/> by how it starts; the characters are unchanged.</summary>
    public static string Paint(string text) => string.Join('\n', text.Split('\n').Select(PaintLine));

    private static string PaintLine(string line) => ColourOf(line) is { } colour ? colour + line + Reset : line;

    private static string? ColourOf(string line)
    {
        // Host text is shown escaped (no control characters), so a line cannot carry its own colour.
        var t = line.TrimStart(' ');
        if (t.Length == 0) return null;
        if (t.StartsWith("warning:", StringComparison.Ordinal) || t.StartsWith("manual ", StringComparison.Ordinal)) return Yellow;
        if (t.StartsWith("fail ", StringComparison.Ordinal) || t.StartsWith("apply failed", StringComparison.Ordinal)) return Red;
        if (t.StartsWith("pass ", StringComparison.Ordinal)) return Green;
        // Plan and progress lines ("+ address", "~ address"), and the diff lines under them.
        return t[0] switch
        {
            '+' => Green,
            '~' => Yellow,
            '-' when !t.StartsWith("---", StringComparison.Ordinal) => Red,
            _ => null,
        };
    }
}
