// Open the print dialog once the ticket has rendered (staff print it on the receipt printer).
window.addEventListener("load", function () { window.print(); });
