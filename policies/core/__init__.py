"""What both packs and preflight share: the rule model, property access that respects
Pulumi's unknown values, pod specs wherever they sit, configuration, waivers, evaluation."""
