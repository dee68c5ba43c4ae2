"""The work the `nas` verbs call: training runs, comparisons, search sessions on Ray, run folders,
reports and run figures.  Nothing here parses a command line or imports a verb."""
