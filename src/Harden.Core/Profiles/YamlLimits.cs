using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Harden.Profiles;

/// <summary>
/// Checks a YAML text against the limits a profile needs, with YamlDotNet's event parser (a loop,
/// no recursion) before any node tree is built: nesting deeper than <see cref="MaxDepth"/> would
/// overflow the stack of every recursive reader (a SIGSEGV, no message), and aliases that expand to
/// more than <see cref="MaxExpandedNodes"/> nodes ("billion laughs": a few hundred bytes that
/// double at each level) would cost minutes of CPU. Each is refused at once with file and line.
/// </summary>
public static class YamlLimits
{
    public const int MaxDepth = 64;
    public const long MaxExpandedNodes = 100_000;

    public static void Check(string text, string origin)
    {
        var parser = new Parser(new StringReader(text));
        // The nodes each open collection has so far, counting what its aliases stand for.
        var open = new Stack<(long Nodes, string? Anchor)>();
        var anchors = new Dictionary<string, long>(StringComparer.Ordinal);
        long total = 0;
        try
        {
            while (parser.MoveNext())
            {
                var e = parser.Current!;
                long size;
                switch (e)
                {
                    case MappingStart or SequenceStart:
                        if (open.Count >= MaxDepth)
                            throw new HardenException($"{origin}:{e.Start.Line}: YAML nested more than {MaxDepth} levels deep; a profile needs a handful");
                        open.Push((1, ((NodeEvent)e).Anchor.IsEmpty ? null : ((NodeEvent)e).Anchor.Value));
                        continue;
                    case MappingEnd or SequenceEnd:
                        var (nodes, anchor) = open.Pop();
                        if (anchor is not null) anchors[anchor] = nodes;
                        size = nodes;
                        break;
                    case Scalar scalar:
                        size = 1;
                        if (!scalar.Anchor.IsEmpty) anchors[scalar.Anchor.Value] = 1;
                        total += 1;
                        break;
                    case AnchorAlias alias:
                        size = anchors.GetValueOrDefault(alias.Value.Value, 1);
                        total += size;
                        break;
                    default:
                        continue;
                }
                if (total > MaxExpandedNodes)
                    throw new HardenException($"{origin}:{e.Start.Line}: YAML aliases here expand to more than {MaxExpandedNodes:N0} nodes; refusing it (a profile needs no such thing)");
                if (open.Count > 0)
                {
                    var (nodes, anchor) = open.Pop();
                    open.Push((nodes + size, anchor));
                }
            }
        }
        catch (YamlException e)
        {
            throw new HardenException($"{origin}:{e.Start.Line}:{e.Start.Column}: malformed YAML: {(e.InnerException ?? e).Message}");
        }
    }
}
