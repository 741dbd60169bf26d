using System.Text;

namespace Harden.Planning;

/// <summary>
/// A line-based unified diff (Myers' O(ND) algorithm), computed as data and printed as text.
/// Config files are small; the edit-distance cap keeps a pathological pair from stalling a plan.
/// </summary>
public static class UnifiedDiff
{
    private const int Context = 3;
    private const int MaxEditDistance = 4000;
    private const int MaxDiffChars = 1 << 20;

    public static string Compute(string oldLabel, string newLabel, string oldText, string newText)
    {
        if (oldText == newText) return "";
        // The diff's memory grows with size times edits: above this, say how big instead of diffing.
        if (oldText.Length + newText.Length > MaxDiffChars)
            return $"--- {oldLabel}\n+++ {newLabel}\n(files differ; {oldText.Length} -> {newText.Length} characters, too large to show)\n";
        var a = SplitLines(oldText);
        var b = SplitLines(newText);
        var ops = Diff(a, b);
        if (ops is null) return $"--- {oldLabel}\n+++ {newLabel}\n(files differ; too many changes to show)\n";

        var sb = new StringBuilder();
        sb.Append("--- ").Append(oldLabel).Append('\n').Append("+++ ").Append(newLabel).Append('\n');
        // Group edits into hunks with up to three lines of context on each side.
        var i = 0;
        while (i < ops.Count)
        {
            if (ops[i].Kind == ' ') { i++; continue; }
            var start = Math.Max(0, i - Context);
            var end = i;
            while (end < ops.Count)
            {
                if (ops[end].Kind != ' ') { end++; continue; }
                var run = end;
                while (run < ops.Count && ops[run].Kind == ' ') run++;
                if (run == ops.Count || run - end > 2 * Context) { end = Math.Min(ops.Count, end + Context); break; }
                end = run;
            }
            var hunk = ops.GetRange(start, end - start);
            var oldStart = hunk[0].OldLine;
            var newStart = hunk[0].NewLine;
            var oldCount = hunk.Count(o => o.Kind != '+');
            var newCount = hunk.Count(o => o.Kind != '-');
            sb.Append("@@ -").Append(Range(oldStart, oldCount)).Append(" +").Append(Range(newStart, newCount)).Append(" @@\n");
            foreach (var op in hunk) sb.Append(op.Kind).Append(op.Text).Append('\n');
            i = end;
        }
        if (!oldText.EndsWith('\n') && oldText.Length > 0 || !newText.EndsWith('\n') && newText.Length > 0)
            sb.Append("\\ No newline at end of file\n");
        return sb.ToString();
    }

    private static string Range(int start, int count) => count == 0 ? $"{start - 1},0" : count == 1 ? $"{start}" : $"{start},{count}";

    private static string[] SplitLines(string text)
    {
        if (text.Length == 0) return [];
        var lines = text.Split('\n');
        return text.EndsWith('\n') ? lines[..^1] : lines;
    }

    private readonly record struct Op(char Kind, string Text, int OldLine, int NewLine);

    private static List<Op>? Diff(string[] a, string[] b)
    {
        int n = a.Length, m = b.Length, max = n + m;
        var offset = max + 1;
        var v = new int[2 * max + 3];
        var trace = new List<int[]>();
        for (var d = 0; d <= max; d++)
        {
            if (d > MaxEditDistance) return null;
            // Only the diagonals step d can reach (-d-1..d+1): memory grows with edits squared, not with file size.
            trace.Add(v[(offset - d - 1)..(offset + d + 2)]);
            for (var k = -d; k <= d; k += 2)
            {
                var x = k == -d || k != d && v[offset + k - 1] < v[offset + k + 1] ? v[offset + k + 1] : v[offset + k - 1] + 1;
                var y = x - k;
                while (x < n && y < m && a[x] == b[y]) { x++; y++; }
                v[offset + k] = x;
                if (x >= n && y >= m) return Backtrack(trace, a, b);
            }
        }
        return null;
    }

    private static List<Op> Backtrack(List<int[]> trace, string[] a, string[] b)
    {
        var ops = new List<Op>();
        int x = a.Length, y = b.Length;
        for (var d = trace.Count - 1; d >= 0; d--)
        {
            var v = trace[d];
            var at = d + 1;
            var k = x - y;
            var prevK = k == -d || k != d && v[at + k - 1] < v[at + k + 1] ? k + 1 : k - 1;
            var prevX = v[at + prevK];
            var prevY = prevX - prevK;
            while (x > prevX && y > prevY) { x--; y--; ops.Add(new Op(' ', a[x], x + 1, y + 1)); }
            if (d > 0)
            {
                if (x == prevX) { y--; ops.Add(new Op('+', b[y], x + 1, y + 1)); }
                else { x--; ops.Add(new Op('-', a[x], x + 1, y + 1)); }
            }
        }
        ops.Reverse();
        return ops;
    }
}
