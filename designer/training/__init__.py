"""Training inside the designer: settings, the run, live plots and the canvas overlay."""
