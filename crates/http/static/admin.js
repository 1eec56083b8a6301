// The console's entry point: everything else is in ./console/.
import { start } from "./console/app.js";

start();
